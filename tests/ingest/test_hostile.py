"""Hostile input: the parser sandbox's limits, and a corpus of hostile files ingested for real.

The sandbox tests run :class:`FakeMisbehavingParser` inside the worker process (the worker
imports it from this module by name): files starting with ``FAKE <command>`` make it sleep,
allocate without end, return too much text, exit or crash; any other file is parsed normally.
Keep this module's top-level imports light: the worker imports it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import SandboxSettings
from ingest.types import Block, IngestError, ParsedDocument

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FAKE_PARSER = "tests.ingest.test_hostile:FakeMisbehavingParser"
GOOD_MD = "# Cafeteria\n\nThe cafeteria opens at 8:00 every weekday.\n"


class FakeMisbehavingParser:
    """Runs in the sandbox worker; misbehaves as a ``FAKE ...`` file asks, else parses."""

    def __init__(self, max_pages: int | None = None, max_text_chars: int | None = None) -> None:
        from ingest.parsers.unstructured import UnstructuredParser

        self._real = UnstructuredParser(max_pages=max_pages, max_text_chars=max_text_chars)

    def warm_up(self) -> None:
        self._real.warm_up()

    def parse(self, path: Path, file_type: str) -> ParsedDocument:
        head = path.read_bytes()[:64]
        if not head.startswith(b"FAKE "):
            return self._real.parse(path, file_type)
        command, _, arg = head[5:].decode().strip().partition(" ")
        if command == "sleep":
            time.sleep(3600)
        elif command == "alloc":  # grows until RLIMIT_AS refuses an allocation
            hog = []
            while True:
                hog.append(bytearray(64 * 2**20))
        elif command == "output":
            return ParsedDocument(blocks=[Block(text="x" * int(arg), kind="text")])
        elif command == "exit":
            os._exit(int(arg))
        elif command == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(10)
        raise AssertionError(f"unknown fake command {command!r}")


# -- the sandbox itself -------------------------------------------------------------------------
FAKE_LIMITS = {"memory_mb": 1536, "max_output_mb": 1, "max_pages": 500}


def _fake_parser(timeout_s: float = 60) -> object:
    from ingest.parsers.sandbox import SandboxedParser

    return SandboxedParser(SandboxSettings(timeout_s=timeout_s, **FAKE_LIMITS), parser=FAKE_PARSER)


@pytest.fixture(scope="module")
def fake_sandbox() -> Iterator[object]:
    """A sandbox running the fake parser; its worker is shared by the tests of this module."""
    parser = _fake_parser()
    yield parser
    parser.close()  # type: ignore[attr-defined]


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _assert_next_file_parses(parser: object, tmp_path: Path) -> None:
    good = _write(tmp_path / "good.md", GOOD_MD)
    document = parser.parse(good, "md")  # type: ignore[attr-defined]
    assert "8:00" in document.text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_timeout_kills_the_worker_and_the_next_file_parses(fake_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _assert_next_file_parses(fake_sandbox, tmp_path)
    old_pid = fake_sandbox.worker_pid()
    quick = _fake_parser(timeout_s=2)
    try:
        started = time.monotonic()
        with pytest.raises(IngestError) as err:
            quick.parse(_write(tmp_path / "slow.txt", "FAKE sleep"), "txt")  # type: ignore[attr-defined]
        assert time.monotonic() - started < 10
    finally:
        quick.close()  # type: ignore[attr-defined]
    assert str(err.value) == "parsing took longer than 2 s (ingest.sandbox.timeout_s)"
    assert old_pid is not None and not _alive(old_pid)
    _assert_next_file_parses(fake_sandbox, tmp_path)
    assert fake_sandbox.worker_pid() not in (None, old_pid)


@pytest.mark.slow
def test_memory_limit(fake_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IngestError) as err:
        fake_sandbox.parse(_write(tmp_path / "hog.txt", "FAKE alloc"), "txt")
    assert str(err.value) == (
        "parser exceeded the memory limit of 1536 MiB (ingest.sandbox.memory_mb)"
    )
    _assert_next_file_parses(fake_sandbox, tmp_path)


@pytest.mark.slow
def test_output_limit(fake_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IngestError) as err:
        fake_sandbox.parse(_write(tmp_path / "big.txt", "FAKE output 1100000"), "txt")
    assert str(err.value) == "extracted text exceeds 1 MiB (ingest.sandbox.max_output_mb)"
    _assert_next_file_parses(fake_sandbox, tmp_path)
    # just under the limit is fine
    document = fake_sandbox.parse(_write(tmp_path / "ok.txt", "FAKE output 1000000"), "txt")
    assert len(document.text) == 1_000_000


@pytest.mark.slow
@pytest.mark.parametrize(("command", "expected"), [
    ("exit 3", "(exit code 3)"),
    ("segv", "(killed by signal SIGSEGV)"),
])
def test_worker_crash_is_a_readable_failure(fake_sandbox, tmp_path: Path, command: str,  # type: ignore[no-untyped-def]
                                            expected: str) -> None:
    with pytest.raises(IngestError) as err:
        fake_sandbox.parse(_write(tmp_path / "crash.txt", f"FAKE {command}"), "txt")
    assert str(err.value).startswith("the parser process crashed while reading this file")
    assert expected in str(err.value)
    _assert_next_file_parses(fake_sandbox, tmp_path)


def test_worker_that_died_while_idle_is_replaced(fake_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _assert_next_file_parses(fake_sandbox, tmp_path)
    pid = fake_sandbox.worker_pid()
    os.kill(pid, signal.SIGKILL)
    while _alive(pid) and fake_sandbox.worker_pid() == pid:
        time.sleep(0.05)
    _assert_next_file_parses(fake_sandbox, tmp_path)
    assert fake_sandbox.worker_pid() != pid


def test_parses_from_many_threads_take_turns(fake_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = [_write(tmp_path / f"t{i}.md", f"# Note {i}\n\nRoom {i} is booked at {i}:00.\n")
             for i in range(8)]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        try:
            results[i] = fake_sandbox.parse(files[i], "md").text
        except Exception as exc:  # noqa: BLE001
            results[i] = f"ERROR {exc}"

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(f"Room {i} is booked at {i}:00." in results[i] for i in range(8)), results


@pytest.mark.slow
def test_close_stops_the_worker_and_a_failed_start_is_readable(tmp_path: Path) -> None:
    from ingest.parsers.sandbox import SandboxedParser

    # limits of its own, so this worker is not shared with other tests
    parser = SandboxedParser(SandboxSettings(memory_mb=1535, max_pages=499))
    _assert_next_file_parses(parser, tmp_path)
    pid = parser.worker_pid()
    parser.close()
    assert pid is not None and not _alive(pid)
    with pytest.raises(IngestError, match="closed"):
        parser.parse(tmp_path / "good.md", "md")

    tiny = SandboxedParser(SandboxSettings(memory_mb=256))
    try:
        with pytest.raises(IngestError) as err:
            tiny.parse(tmp_path / "good.md", "md")
    finally:
        tiny.close()
    assert "could not start" in str(err.value) and "ingest.sandbox.memory_mb" in str(err.value)


# -- the hostile corpus through the real ingestor ---------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Test settings, with files up to 64 MiB accepted so each file reaches its own check."""
    from tests.conftest import make_settings

    return make_settings(tmp_path / "data", ingest={"max_file_mb": 64})


class _Listener:
    """A loopback TCP server that counts connections (an XXE fetch would be one)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(addr)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system: it cannot exist either
        return False


def _escape_targets(raw_names: list[str], bases: list[Path]) -> set[Path]:
    """Where a hostile name would land if some code joined it onto a folder."""
    targets = set()
    for raw in raw_names:
        for name in (raw, raw.replace("\\", "/")):
            if "\x00" in name:
                name = name.replace("\x00", "")
            for base in bases:
                targets.add(Path(os.path.normpath(base / name)))
            targets.add(Path("/tmp") / Path(name).name)
            targets.add(REPO / Path(name).name)
    return targets


@pytest.mark.slow
def test_hostile_corpus_fails_cleanly_and_leaves_the_collection_intact(  # type: ignore[no-untyped-def]
    stack, ingestor, settings, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from db.models import Chunk
    from tests.ingest.test_pipeline import _state

    listener = _Listener()
    try:
        corpus = tmp_path / "corpus"
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "make_hostile_corpus.py"), str(corpus),
             "--port", str(listener.port)],
            check=True, capture_output=True, timeout=120,
        )
        manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
        entries = manifest["files"]
        assert len(entries) >= 45

        good = ingestor.ingest_file(_write(tmp_path / "good.md", GOOD_MD), "c")
        assert good.status == "added"
        rows_before, ids_before = _state(stack)
        good_rows = [r for r in rows_before if r[0] == "good.md"]

        raw_names = [e["upload_name"] for e in entries if "upload_name" in e]
        targets = _escape_targets(raw_names, [Path.cwd(), REPO, settings.data_dir,
                                              settings.uploads_dir, tmp_path, corpus])
        existing = {t for t in targets if _exists(t)}
        data_before = _listing(settings.data_dir)
        rss_before = _rss_mb()

        outcomes = {}
        started = time.monotonic()
        for entry in entries:
            name = entry.get("upload_name", entry["file"])
            result = ingestor.ingest_file(corpus / entry["file"], "c", name=name)
            outcomes[entry["file"]] = (result.status, result.error)
        elapsed = time.monotonic() - started

        wrong = {}
        for entry in entries:
            status, error = outcomes[entry["file"]]
            if status != entry["expected"] or (
                entry.get("reason") and entry["reason"] not in (error or "")
            ):
                wrong[entry["file"]] = (status, error, entry["expected"], entry.get("reason"))
            if status == "failed":
                assert error and "internal error" not in error, (entry["file"], error)
        assert wrong == {}, wrong
        assert elapsed < 120, f"the corpus took {elapsed:.0f} s"

        # the good document is untouched; catalog and FAISS agree
        rows_after, ids_after = _state(stack)
        assert [r for r in rows_after if r[0] == "good.md"] == good_rows
        good_ids = {r[4] for r in good_rows}
        assert good_ids <= set(ids_after) and good_ids <= set(ids_before)
        assert ingestor.check() == []

        # no entity was resolved, nothing was fetched
        assert listener.connections == []
        with stack.sessions() as s:
            texts = s.scalars(select(Chunk.text)).all()
        assert not any("root:x:0:0" in t or "/bin/" in t for t in texts)

        # nothing was written outside the test's folders, nor under a hostile name
        assert {t for t in targets if _exists(t)} == existing
        new_in_data = _listing(settings.data_dir) - data_before
        assert not {p for p in new_in_data if not p.startswith("index/")}, new_in_data
        assert not settings.uploads_dir.exists()

        # the parent process stayed small: parsing happened in the worker
        assert _rss_mb() - rss_before < 500
    finally:
        listener.close()
