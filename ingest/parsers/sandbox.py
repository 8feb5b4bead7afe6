"""Parse each file in a child process with a time limit, a memory limit and an output limit.

:class:`SandboxedParser` is the :class:`ingest.types.Parser` the pipeline uses by default
(``ingest.sandbox.enabled``). A hostile or broken file can hang a parser, eat all memory or
crash the interpreter; here it only costs the child process.

Process model: one long-lived worker (``python -m ingest.parsers.sandbox_worker``) per distinct set
of limits, shared by every SandboxedParser in this process. Importing unstructured takes
seconds, so the worker imports it once at start and then parses files one after another.
Requests and replies are JSON lines over its stdin/stdout (no pickle); a lock serializes
access, so web threads take turns. The handle on the child process and its protocol are in
:mod:`ingest.parsers.sandbox_process`; this module shares them and is the parser callers use.

- **time**: the parent waits for the reply until ``timeout_s``; then it kills the worker's
  process group.
- **memory**: the worker sets ``RLIMIT_AS`` to ``memory_mb`` on itself before importing
  anything; an allocation past it raises MemoryError there, which it reports before exiting.
  A worker that dies instead (a C library aborting) gets a crash reason naming the limit when
  its peak memory was near it.
- **output**: the worker refuses a result whose text or serialized blocks exceed
  ``max_output_mb``; the parent also stops reading a reply that grows past twice that.
- **pages**: PDFs with more than ``max_pages`` pages are refused by the parser's pre-checks.

After a limit is hit (or the worker dies) the worker is discarded and a fresh one is started
right away, so it is warm by the next file. Every failure is an :class:`IngestError` whose
message names the setting, e.g. "parsing took longer than 120 s (ingest.sandbox.timeout_s)".
"""

from __future__ import annotations

import atexit
import json
import threading
from pathlib import Path
from typing import Any

from config.settings import SandboxSettings
from ingest.parsers.sandbox_process import WorkerConfig, WorkerProcess
from ingest.types import IngestError, ParsedDocument

DEFAULT_PARSER = "ingest.parsers.unstructured:UnstructuredParser"
# Starting a worker imports unstructured and its dependencies (~6 s on a quiet machine).
STARTUP_TIMEOUT_S = 180.0


# -- workers shared per configuration ---------------------------------------------------------
_registry_lock = threading.Lock()
_workers: dict[WorkerConfig, WorkerProcess] = {}
_users: dict[WorkerConfig, int] = {}


def _acquire(config: WorkerConfig) -> WorkerProcess:
    with _registry_lock:
        worker = _workers.get(config)
        if worker is None:
            worker = _workers[config] = WorkerProcess(config)
        _users[config] = _users.get(config, 0) + 1
        return worker


def _release(config: WorkerConfig) -> None:
    with _registry_lock:
        _users[config] = _users.get(config, 1) - 1
        if _users[config] > 0:
            return
        del _users[config]
        worker = _workers.pop(config, None)
    if worker is not None:
        worker.stop()


@atexit.register
def shutdown_workers() -> None:
    """Stop every parser worker of this process (also runs at interpreter exit)."""
    with _registry_lock:
        workers = list(_workers.values())
        _workers.clear()
        _users.clear()
    for worker in workers:
        worker.stop()


class SandboxedParser:
    """:class:`ingest.types.Parser` that parses in a child process under ``settings``' limits.

    Parsers with the same limits share one worker process, kept running (idle) until the last
    of them is closed or the interpreter exits. With ``prestart`` the worker starts loading in
    the background right away. ``parser`` names the class the worker runs, as ``module:Class``
    taking ``max_pages`` and ``max_text_chars`` (tests inject fakes here), and the keyword
    arguments in ``options`` (JSON values, e.g. ``{"ocr": "auto", "ocr_languages": "eng"}``).
    """

    def __init__(
        self,
        settings: SandboxSettings,
        parser: str = DEFAULT_PARSER,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        prestart: bool = True,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self._config = WorkerConfig(
            memory_mb=settings.memory_mb,
            max_output_bytes=int(settings.max_output_mb * 2**20),
            max_pages=settings.max_pages,
            parser=parser,
            startup_timeout_s=startup_timeout_s,
            parser_options=json.dumps(options, sort_keys=True) if options else "",
        )
        self._worker = _acquire(self._config)
        self._closed = False
        self._close_lock = threading.Lock()
        if prestart:
            self._worker.prestart()

    def parse(self, path: Path, file_type: str) -> ParsedDocument:
        """Parse ``path`` in the worker; raise IngestError naming the limit it broke."""
        if self._closed:
            raise IngestError("the parser sandbox is closed")
        return self._worker.parse(path, file_type, self.settings.timeout_s)

    def worker_pid(self) -> int | None:
        """The current worker's process id (None when none is running); for tests/diagnostics."""
        return self._worker.live_pid()

    def close(self) -> None:
        """Release the worker; it stops when no other open SandboxedParser shares it."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        _release(self._config)

    def __enter__(self) -> SandboxedParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
