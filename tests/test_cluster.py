"""Several machines' worth of Enclave on loopback: PostgreSQL + Redis + 2 Celery workers + 2 web
processes (one gunicorn, one waitress), all real, with outbound network blocked.

- A file uploaded through one web process is searchable through the other once its job ends.
- A worker SIGKILLed (the whole worker: main process and pool) in the middle of a job leaves
  its file to the other worker (late acknowledgement, Redis visibility timeout); the job ends
  with every file ingested once and ``python -m ingest --check`` finds catalog and index
  consistent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

REDIS = os.environ.get("ENCLAVE_TEST_REDIS", "redis://127.0.0.1:6379/15")
BIN = Path(sys.executable).parent


def _redis_up() -> bool:
    host_port = urllib.parse.urlparse(REDIS)
    try:
        with socket.create_connection((host_port.hostname, host_port.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """The processes of one test, their shared environment and their logs."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.queue = f"enclave.test.{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
        env.update({
            "PYTHONPATH": f"{REPO / 'tests' / 'netguard'}{os.pathsep}{REPO}",
            "ENCLAVE_NETGUARD_LOG": str(tmp / "net.log"),
            "ENCLAVE_PROFILE": "test",
            "ENCLAVE_DATA_DIR": str(tmp / "data"),
            "ENCLAVE_DATABASE_URL": database_url,
            "ENCLAVE_JOBS__RUNNER": "celery",
            "ENCLAVE_JOBS__BROKER_URL": REDIS,
            "ENCLAVE_JOBS__QUEUE": self.queue,
            "ENCLAVE_JOBS__VISIBILITY_TIMEOUT_S": "8",
            "ENCLAVE_RETRIEVAL__INDEX__MMAP": "true",
            "ENCLAVE_WEB_PROCESSES": "1",
        })
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.token = ""
        self.urls: list[str] = []

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, env=self.env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, env=self.env, cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, str(BIN / "celery"), "-A", "ingest.celery_app", "worker",
                          "--queues", self.queue, "--concurrency", "1", "--pool", "prefork",
                          "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
                          "--loglevel", "INFO")

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything in its session (a worker's pool too)."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    # -- HTTP ----------------------------------------------------------------------------
    def call(self, url: str, path: str, *, data: bytes | None = None,
             headers: dict[str, str] | None = None, method: str = "GET") -> Any:
        req = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              **(headers or {})})
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())

    def upload(self, url: str, collection: str, files: dict[str, bytes]) -> int:
        boundary = uuid.uuid4().hex
        body = b""
        for name, content in files.items():
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                     f"filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n").encode()
            body += content + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        out = self.call(url, f"/api/v1/collections/{collection}/documents", data=body,
                        method="POST",
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return int(out["job"]["id"])

    def job(self, url: str, job_id: int) -> dict[str, Any]:
        return self.call(url, f"/api/v1/jobs/{job_id}")  # type: ignore[no-any-return]

    def wait_job(self, url: str, job_id: int, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(url, job_id)
            if job["status"] in ("done", "failed", "cancelled"):
                return job
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} did not end: {self.job(url, job_id)}\n"
                             + "\n".join(self.log(n)[-3000:] for n in self.procs))

    def search(self, url: str, collection: str, query: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"query": query, "collection": collection, "k": 5})
        return self.call(url, f"/api/v1/search?{q}")["hits"]  # type: ignore[no-any-return]


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"web process {url} exited with {proc.returncode}"
        with contextlib.suppress(OSError), urllib.request.urlopen(  # noqa: S310 - loopback
                url + "/healthz", timeout=5) as resp:
            if resp.status == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"{url} did not come up")


def _text(topic: str, n: int) -> bytes:
    """A plain-text document of ``n`` paragraphs about ``topic`` (slow enough to embed)."""
    paras = [f"Section {i} of the {topic} procedure. The {topic} team checks item {i} "
             f"against the register, records the {topic} reading number {i * 7} and signs "
             f"the sheet before the shift ends. Questions go to the {topic} coordinator."
             for i in range(n)]
    return ("\n\n".join(paras)).encode()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[Cluster]:
    if not _redis_up():
        pytest.skip(f"Redis is not running at {REDIS} (.ci/run starts it)")
    c = Cluster(tmp_path, pg_url)
    try:
        out = c.run(sys.executable, "-m", "web", "upgrade")
        assert out.returncode == 0, out.stderr
        c.env["ENCLAVE_ADMIN_PASSWORD"] = "harbour-crane-quay-7"
        out = c.run(sys.executable, "-m", "web", "create-admin", "--username", "admin")
        assert out.returncode == 0, out.stderr
        out = c.run(sys.executable, "-m", "web", "token", "create", "admin", "--name", "e2e")
        assert out.returncode == 0, out.stderr
        c.token = out.stdout.strip().splitlines()[-1]
        c.worker("w1")
        c.worker("w2")
        ports = [_free_port(), _free_port()]
        web1 = c.start("web1", str(BIN / "gunicorn"), "-c", "docker/gunicorn.conf.py",
                       "--bind", f"127.0.0.1:{ports[0]}", "web.wsgi:app")
        web2 = c.start("web2", sys.executable, "-m", "web", "serve", "--host", "127.0.0.1",
                       "--port", str(ports[1]), "--no-warm-up")
        c.urls = [f"http://127.0.0.1:{p}" for p in ports]
        _wait_http(c.urls[0], web1)
        _wait_http(c.urls[1], web2)
        yield c
    finally:
        c.stop()


def test_upload_on_one_web_process_is_found_on_the_other_and_a_killed_worker_loses_nothing(
        cluster: Cluster) -> None:
    web1, web2 = cluster.urls
    # 1. Uploaded through web1 (gunicorn), ingested by a Celery worker, found through web2.
    job_id = cluster.upload(web1, "ops", {"boiler.txt": _text("boiler pressure", 6)})
    job = cluster.wait_job(web2, job_id)  # the job record is shared too
    assert job["status"] == "done", job
    hits = cluster.search(web2, "ops", "who signs the boiler pressure sheet")
    assert hits and hits[0]["document"] == "boiler.txt", hits

    # 2. A job of several slow files; the first worker is killed while it holds one.
    files = {f"topic-{i}.txt": _text(f"topic{i} calibration", 160) for i in range(6)}
    job_id = cluster.upload(web2, "ops", files)
    deadline = time.monotonic() + 120
    while "Task enclave.ingest_file" not in cluster.log("w1"):
        assert time.monotonic() < deadline, cluster.log("w1")[-3000:]
        time.sleep(0.2)
    time.sleep(1.0)  # inside the file: parsing or embedding
    cluster.kill("w1")
    w1_log = cluster.log("w1")
    received = w1_log.count("Task enclave.ingest_file[") - w1_log.count("succeeded in")
    assert received >= 1, "w1 finished everything it took: nothing was interrupted\n" + w1_log

    job = cluster.wait_job(web1, job_id, timeout=420)
    assert job["status"] == "done", job
    assert sorted(f["status"] for f in job["files"]) == ["added"] * 6, job["files"]
    assert "w2@" in cluster.log("w2")
    # every document exactly once, each found through either web process
    docs = cluster.call(web1, "/api/v1/collections/ops/documents")["documents"]
    assert sorted(d["name"] for d in docs) == sorted(["boiler.txt", *files]), docs
    for i in (0, 5):
        hits = cluster.search(web1 if i else web2, "ops", f"topic{i} calibration coordinator")
        assert hits[0]["document"] == f"topic-{i}.txt", hits

    # 3. Catalog and index agree, and nothing tried to leave the machine.
    cluster.stop()
    out = cluster.run(sys.executable, "-m", "ingest", "--check", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["problems"] == []
    net = cluster.tmp / "net.log"
    assert not net.exists() or net.read_text() == ""
