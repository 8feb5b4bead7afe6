"""Crash consistency: start a batch ingest in a subprocess, SIGKILL it after a random delay
(the kill lands in parsing, embedding, the catalog commit or the index save), restart, check.

    python bench/crash_consistency.py --iterations 200      # the benchmark run
    (tests/ingest/test_crash.py runs the same loop 25 times)

Checked after every kill, before any repair: every FAISS file loads, SQLite's integrity check
passes. Checked after the restart's recovery (the same ``check(repair=True)`` the web app and
the CLI run at start-up): catalog chunk ids == FAISS ids, no orphan files, and at the end a
re-run of the same ingest reports every file unchanged (idempotent, no duplicate vectors).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS = ("policy budget travel laptop security leave parking meeting invoice client "
         "contract archive backup printer badge training payroll report audit vendor").split()


def write_corpus(folder: Path, n_files: int, generation: int, rng: random.Random) -> None:
    """``n_files`` small Markdown files; each generation rewrites a random third of them."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        path = folder / f"doc-{i:03d}.md"
        if path.exists() and rng.random() > 0.33:
            continue
        paragraphs = []
        for p in range(rng.randint(2, 5)):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90)))
            paragraphs.append(f"Paragraph {p} of document {i}, generation {generation}: {words}.")
        body = "\n\n".join(paragraphs)
        path.write_text(f"# Document {i}\n\n## Section A\n\n{body}\n", encoding="utf-8")


@dataclass
class LoopReport:
    """Outcome of a crash loop."""

    iterations: int = 0
    killed: int = 0
    finished_before_kill: int = 0
    repairs: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "ENCLAVE_DATA_DIR": str(data_dir), "ENCLAVE_PROFILE": "test",
            "PYTHONPATH": str(REPO)}


def _start(cmd: list[str], data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *cmd], cwd=REPO, env=_env(data_dir),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )


def _wait_started(proc: subprocess.Popen[str], timeout: float = 180) -> bool:
    """Read output until the job has started; False if the process ended first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        if line.startswith("job ") and " started" in line:
            return True
    raise TimeoutError("ingest subprocess did not start its job in time")


def check_files_load(data_dir: Path) -> None:
    """Before any repair: index files load and the SQLite catalog is intact."""
    import faiss

    for path in (data_dir / "index").glob("collection-*.faiss"):
        index = faiss.read_index(str(path))
        assert index.ntotal >= 0
    with sqlite3.connect(data_dir / "enclave.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def recover_and_check(data_dir: Path) -> list[str]:
    """Run the start-up recovery, then assert the invariant; returns what recovery fixed."""
    from config import load_settings
    from ingest.jobs import JobManager
    from ingest.stack import build_ingestor
    from retrieval.stack import build_retrieval

    stack = build_retrieval(load_settings(profile="test", overrides={"data_dir": str(data_dir)}))
    try:
        ingestor = build_ingestor(stack)
        jobs = JobManager(stack.sessions, ingestor)
        jobs.recover()
        fixed = ingestor.check(repair=True) + jobs.check_orphans(repair=True)
        problems = ingestor.check() + jobs.check_orphans()
        assert problems == [], problems
        return fixed
    finally:
        close = getattr(stack, "close", None)
        if close:
            close()


def crash_loop(work: Path, iterations: int, seed: int = 0, n_files: int = 30,
               max_delay: float = 4.0, log=print) -> LoopReport:  # type: ignore[no-untyped-def]
    """Run the kill/restart loop; raises AssertionError on the first broken invariant.

    The kill is due at a random moment between the job's start and a window: ``max_delay`` at
    first, the longest of the last three uninterrupted jobs' durations after one finishes, a
    fifth longer after every kill. So the kills keep landing inside the work, and some jobs
    still finish (new work for the next round), however fast this machine or the ingest is.
    """
    rng = random.Random(seed)
    corpus, data_dir = work / "corpus", work / "data"
    report = LoopReport()
    t0 = time.monotonic()
    generation = 0
    write_corpus(corpus, n_files, generation, rng)
    resume = False
    durations: list[float] = []  # seconds from "job started" to exit, uninterrupted jobs
    window = max_delay
    for i in range(iterations):
        cmd = ["--resume"] if resume else [str(corpus), "--collection", "crash"]
        proc = _start(cmd, data_dir)
        started = _wait_started(proc)
        delay = rng.uniform(0, window)
        begun = time.monotonic()
        if started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            report.killed += 1
            resume = True
            window *= 1.2
            outcome = f"killed {delay:.2f}s into the job"
        else:
            took = time.monotonic() - begun
            if started:
                durations.append(took)
                window = max(durations[-3:])
            report.finished_before_kill += 1
            resume = False
            generation += 1
            write_corpus(corpus, n_files, generation, rng)  # new work for the next round
            outcome = f"finished in {took:.2f}s (kill was due at {delay:.2f}s)"
        check_files_load(data_dir)
        fixed = recover_and_check(data_dir)
        report.repairs += [f"#{i}: {f}" for f in fixed]
        report.iterations += 1
        log(f"iteration {i + 1}/{iterations}: {outcome}; recovery fixed: {fixed or 'nothing'}")
    # finish whatever was interrupted, then the same ingest again must change nothing
    subprocess.run([sys.executable, "-m", "ingest", "--resume"], cwd=REPO, env=_env(data_dir),
                   check=False, capture_output=True, timeout=600)
    again = subprocess.run(
        [sys.executable, "-m", "ingest", str(corpus), "--collection", "crash", "--json"],
        cwd=REPO, env=_env(data_dir), capture_output=True, text=True, timeout=600,
    )
    import json

    results = json.loads(again.stdout)["results"]
    assert {r["status"] for r in results} <= {"unchanged", "replaced", "added"}, results
    rerun = subprocess.run(
        [sys.executable, "-m", "ingest", str(corpus), "--collection", "crash", "--json"],
        cwd=REPO, env=_env(data_dir), capture_output=True, text=True, timeout=600,
    )
    assert {r["status"] for r in json.loads(rerun.stdout)["results"]} == {"unchanged"}
    recover_and_check(data_dir)
    with sqlite3.connect(data_dir / "enclave.db") as conn:
        docs = conn.execute("SELECT count(*) FROM documents WHERE status='ready'").fetchone()[0]
    assert docs == n_files, docs
    report.seconds = time.monotonic() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: temp)")
    args = parser.parse_args(argv)
    import tempfile

    from config import configure_offline

    configure_offline()
    with tempfile.TemporaryDirectory(prefix="enclave-crash-") as tmp:
        report = crash_loop(args.work or Path(tmp), args.iterations, args.seed)
    print(f"{report.iterations} iterations, {report.killed} killed mid-run, "
          f"{report.finished_before_kill} finished before the kill, "
          f"{len(report.repairs)} recoveries had something to fix, {report.seconds:.0f}s")
    for line in report.repairs[:20]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
