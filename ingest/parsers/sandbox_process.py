"""The parent's side of one sandbox worker process: start, JSON-lines protocol, kill and reap.

:class:`WorkerProcess` owns one ``python -m ingest.parsers.sandbox_worker`` child at a time
and the lock that serializes access to it. It sends one request line per file and reads the
reply under the time limit (``poll``, no ``FD_SETSIZE`` limit) and a size cap; a late, oversized
or unreadable reply, or a dead child, discards the process (its whole process group is
killed and reaped, its peak memory taken from ``wait4``) and a fresh one is started right away.
The reply is trusted no further than valid JSON: its shape is checked before it becomes a
:class:`ParsedDocument`. The limits themselves and the sharing of workers are described in
:mod:`ingest.parsers.sandbox`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.offline import OFFLINE_ENV
from config.settings import REPO_ROOT
from ingest.parsers.sandbox_worker import memory_limit_reason
from ingest.parsers.unstructured import output_limit_reason
from ingest.types import Block, IngestError, ParsedDocument

log = logging.getLogger(__name__)

_STOP_GRACE_S = 3.0
_READ_CHUNK = 1 << 20
# Keep the worker's address space predictable under RLIMIT_AS: one BLAS/OpenMP thread and
# few malloc arenas (each arena reserves 64 MiB of address space per thread).
_CHILD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
    "PYTHONDONTWRITEBYTECODE": "1",
}
_KINDS = {"title", "text", "table"}


def timeout_reason(timeout_s: float) -> str:
    """The reason given when a file takes longer than ``ingest.sandbox.timeout_s``."""
    return f"parsing took longer than {timeout_s:g} s (ingest.sandbox.timeout_s)"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The limits and parser of a worker; parsers with equal configs share one worker."""

    memory_mb: int
    max_output_bytes: int
    max_pages: int
    parser: str
    startup_timeout_s: float
    # Extra keyword arguments of the parser class, as JSON (e.g. the OCR settings); "" for none.
    parser_options: str = ""


class _ChildGone(Exception):
    pass


class _ReplyTooLarge(Exception):
    pass


class WorkerProcess:
    """One child process at a time (replaced after a limit or a crash) and its lock."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.closed = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._started_at = 0.0
        self._buffer = bytearray()
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._stderr_thread: threading.Thread | None = None

    # -- process lifecycle (callers hold self.lock) ---------------------------------------
    def _spawn(self) -> None:
        cfg = self.config
        cmd = [
            sys.executable, "-m", "ingest.parsers.sandbox_worker",
            "--memory-mb", str(cfg.memory_mb),
            "--max-output-bytes", str(cfg.max_output_bytes),
            "--max-pages", str(cfg.max_pages),
            "--parser", cfg.parser,
        ]
        if cfg.parser_options:
            cmd += ["--parser-options", cfg.parser_options]
        env = {**os.environ, **OFFLINE_ENV, **_CHILD_ENV}
        self._proc = subprocess.Popen(  # noqa: S603 - fixed command line, no shell
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=REPO_ROOT, env=env, close_fds=True, start_new_session=True, bufsize=0,
        )
        self._ready = False
        self._started_at = time.monotonic()
        self._buffer.clear()
        self._stderr_tail.clear()
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, args=(self._proc,), daemon=True,
            name=f"sandbox-stderr-{self._proc.pid}",
        )
        self._stderr_thread.start()
        log.debug("started parser worker pid %s", self._proc.pid)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            while line := proc.stderr.readline(8192):
                text = line.decode("utf-8", errors="replace").rstrip()
                if text:
                    self._stderr_tail.append(text)
                    log.debug("parser worker %s: %s", proc.pid, text)

    def _discard(self, respawn: bool, grace_s: float = 0.0) -> tuple[int | None, int]:
        """Kill (after ``grace_s`` to exit by itself) and reap the current worker.

        Returns (exit status as Popen reports it, peak RSS in MiB).
        """
        proc, self._proc = self._proc, None
        self._ready = False
        self._buffer.clear()
        status: int | None = None
        peak_mb = 0
        if proc is not None:
            status, peak_mb = _kill_and_reap(proc, grace_s)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            if self._stderr_thread is not None:
                self._stderr_thread.join(0.5)  # collect the last lines it wrote
        if respawn and not self.closed:
            try:
                self._spawn()  # warm by the next file
            except OSError:
                log.exception("could not start a parser worker")
        return status, peak_mb

    def _ensure_ready(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is not None:
            self._discard(respawn=False)  # died while idle
        if self._proc is None:
            try:
                self._spawn()
            except OSError as exc:
                raise IngestError(f"the parser worker could not start: {exc}") from exc
        assert self._proc is not None
        if not self._ready:
            deadline = self._started_at + self.config.startup_timeout_s
            try:
                line = self._read_line(deadline, 1 << 20)
            except (_ChildGone, _ReplyTooLarge):
                line = b""
            reply = _loads(line) if line else None
            if not isinstance(reply, dict) or reply.get("ready") is not True:
                status, _ = self._discard(respawn=False, grace_s=0.0 if line is None else 2.0)
                if line is None:
                    problem = f"it did not start within {self.config.startup_timeout_s:g} s"
                elif isinstance(reply, dict) and reply.get("error"):
                    problem = str(reply["error"])[:500]
                else:
                    problem = _exit_description(status)
                    if self._stderr_tail:
                        problem += f": {self._stderr_tail[-1][:300]}"
                raise IngestError(f"the parser worker could not start ({problem})")
            self._ready = True
            log.info("parser worker pid %s ready (%s MiB address space)",
                     reply.get("pid"), reply.get("vm_mb"))
        return self._proc

    def live_pid(self) -> int | None:
        """The current worker's process id (None when none is running)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def prestart(self) -> None:
        """Start the worker in the background if none is running, so it is warm by the first file.

        Does nothing while another thread is using the worker.
        """
        if not self.lock.acquire(blocking=False):
            return
        try:
            if self._proc is None and not self.closed:
                self._spawn()
        except OSError:
            log.exception("could not start a parser worker")
        finally:
            self.lock.release()

    def stop(self) -> None:
        """Stop the worker: a clean exit on stdin EOF, else killed."""
        self.closed = True
        if not self.lock.acquire(timeout=0.1):
            # A parse is running in another thread: kill; that thread reaps and reports.
            proc = self._proc
            if proc is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        try:
            proc = self._proc
            if proc is not None and proc.stdin is not None and self._ready:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(_STOP_GRACE_S)
            self._discard(respawn=False)
        finally:
            self.lock.release()

    # -- protocol ---------------------------------------------------------------------------
    def _read_line(self, deadline: float, cap: int) -> bytes | None:
        """One reply line; None when ``deadline`` passes first."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        poller = select.poll()  # not select(): no FD_SETSIZE limit in a busy server
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        scanned = 0
        while True:
            newline = self._buffer.find(b"\n", scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            scanned = len(self._buffer)
            if scanned > cap:
                raise _ReplyTooLarge
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(min(remaining, 3600) * 1000):
                continue
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                raise _ChildGone
            self._buffer += chunk

    def parse(self, path: Path, file_type: str, timeout_s: float) -> ParsedDocument:
        """Parse ``path`` in the worker within ``timeout_s``; raise IngestError naming the limit."""
        request = json.dumps({"path": str(Path(path).resolve()), "file_type": file_type})
        with self.lock:
            if self.closed:
                raise IngestError("the parser sandbox is closed")
            proc = self._ensure_ready()
            cap = 2 * self.config.max_output_bytes + (1 << 20)
            try:
                assert proc.stdin is not None
                proc.stdin.write(request.encode("utf-8") + b"\n")
                proc.stdin.flush()
                line = self._read_line(time.monotonic() + timeout_s, cap)
            except (_ChildGone, BrokenPipeError, ConnectionResetError):
                raise IngestError(self._crash_reason()) from None
            except _ReplyTooLarge:
                self._discard(respawn=True)
                raise IngestError(output_limit_reason(self.config.max_output_bytes)) from None
            if line is None:
                log.warning("parser worker pid %s timed out on %s; killing it", proc.pid, path)
                self._discard(respawn=True)
                raise IngestError(timeout_reason(timeout_s))
            reply = _loads(line)
            if not isinstance(reply, dict):
                self._discard(respawn=True)
                raise IngestError("the parser worker sent an unreadable reply")
            if reply.get("restart"):
                self._discard(respawn=True)
            if reply.get("ok") is not True:
                raise IngestError(str(reply.get("error") or "the parser failed")[:1000])
            return _document(reply)

    def _crash_reason(self) -> str:
        if self.closed:
            self._discard(respawn=False)
            return "the parser sandbox was closed while parsing this file"
        status, peak_mb = self._discard(respawn=False, grace_s=2.0)
        how = _exit_description(status)
        log.warning("parser worker died (%s, peak %s MiB): %s",
                    how, peak_mb, " | ".join(list(self._stderr_tail)[-5:]))
        self._discard(respawn=True)  # nothing to kill any more: starts the next worker
        reason = f"the parser process crashed while reading this file ({how})"
        if peak_mb >= self.config.memory_mb // 2:
            reason += (
                f"; it used {peak_mb} MiB, probably too much: "
                + memory_limit_reason(self.config.memory_mb)
            )
        return reason


def _exit_description(status: int | None) -> str:
    if status is None:
        return "exit status unknown"
    if status < 0:
        try:
            return f"killed by signal {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit code {status}"


def _kill_and_reap(proc: subprocess.Popen[bytes], grace_s: float) -> tuple[int | None, int]:
    """Give a worker ``grace_s`` to exit, kill its process group, reap it.

    Returns (exit status as Popen reports it, peak RSS in MiB).
    """
    if proc.returncode is not None:
        return proc.returncode, 0
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:  # WNOWAIT: look without reaping, so the group id stays valid for killpg
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                break
        except ChildProcessError:
            break
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything it started
    try:
        _, wait_status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # reaped elsewhere
        return proc.poll(), 0
    proc.returncode = os.waitstatus_to_exitcode(wait_status)
    return proc.returncode, int(usage.ru_maxrss) // 1024  # ru_maxrss is KiB on Linux


def _loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _document(reply: dict[str, Any]) -> ParsedDocument:
    """The worker's reply as a ParsedDocument, its shape checked.

    The worker reads hostile input, so its reply is trusted no further than valid JSON.
    """
    blocks = []
    for item in reply.get("blocks") or []:
        if not (isinstance(item, list) and len(item) in (4, 5)):
            raise IngestError("the parser worker sent an unreadable reply")
        text, kind, page, depth = item[:4]
        confidence = item[4] if len(item) == 5 else None  # OCRed blocks only
        if not (isinstance(text, str) and kind in _KINDS
                and (page is None or isinstance(page, int))
                and (depth is None or isinstance(depth, int))
                and (confidence is None or (isinstance(confidence, (int, float))
                                            and not isinstance(confidence, bool)
                                            and 0 <= confidence <= 100))):
            raise IngestError("the parser worker sent an unreadable reply")
        blocks.append(Block(text=text, kind=kind, page=page, depth=depth,
                            ocr_confidence=None if confidence is None else float(confidence)))
    num_pages = reply.get("num_pages")
    reasons = reply.get("hidden_by_reason")
    return ParsedDocument(blocks=blocks, num_pages=num_pages if isinstance(num_pages, int) else None,
                          hidden_chars=_count(reply.get("hidden_chars")),
                          hidden_by_reason={k[:40]: _count(v) for k, v in reasons.items()
                                            if _count(v)} if isinstance(reasons, dict) else {},
                          ocr_pages=_count(reply.get("ocr_pages")),
                          unread_pages=_count(reply.get("unread_pages")))


def _count(value: Any) -> int:
    """A count from the worker's reply: a positive int, else 0."""
    return value if type(value) is int and value > 0 else 0

