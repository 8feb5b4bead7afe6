"""The parser sandbox's child process: parses files one after another under resource limits.

:class:`ingest.parsers.sandbox.SandboxedParser` starts it as ``python -m ingest.parsers.sandbox_worker`` and
talks to it in JSON lines (never pickle). One request per line on stdin, one reply per line
on the protocol pipe, which is the process's original stdout; file descriptor 1 is then
pointed at stderr, so nothing a library prints can corrupt the protocol.

- startup reply: ``{"ready": true, "pid": 123, "vm_mb": 930}`` or
  ``{"ready": false, "error": "..."}``
- request: ``{"path": "/abs/file.pdf", "file_type": "pdf"}``
- reply: ``{"ok": true, "num_pages": 3, "hidden_chars": 0, "hidden_by_reason": {},
  "ocr_pages": 0, "unread_pages": 0, "blocks": [[text, kind, page, depth], ...]}``
  (``hidden_chars``: text a reader cannot see, dropped, ``hidden_by_reason`` the same by
  reason; ``ocr_pages``/``unread_pages``: scanned pages read with OCR / left unread; an
  OCRed block has a fifth item, its OCR confidence) or
  ``{"ok": false, "error": "reason a user can read", "restart": false}``

``restart: true`` means the worker broke a limit and exits after replying; the parent starts
a fresh one. Limits set here: the address space (``RLIMIT_AS``, so an allocation past it
raises MemoryError), no core files, and the size of the serialized reply. The wall-clock
limit is the parent's: it kills this process when a reply is late.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

# The parsers never need torch, but spaCy's thinc imports it when it is installed (5 s and
# ~500 MiB of address space). Marking it absent keeps the worker small and quick to start.
_BLOCKED_MODULES = ("torch",)
_PARENT_POLL_S = 1.0


def memory_limit_reason(memory_mb: int) -> str:
    """The reason given when parsing a file needs more memory than the sandbox allows."""
    return f"parser exceeded the memory limit of {memory_mb} MiB (ingest.sandbox.memory_mb)"


def _vm_mb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def _set_limits(memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = memory_mb * 2**20
    # Soft and hard: parser code in this process cannot raise it again.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _watch_parent(parent: int) -> None:
    """Exit when the parent is gone.

    stdin EOF covers a clean exit; this covers a parse still running when the parent dies.
    """
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(0)


def _load_parser(spec: str, max_pages: int, max_text_chars: int,
                 options: dict[str, Any] | None = None) -> Any:
    module_name, _, class_name = spec.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(max_pages=max_pages, max_text_chars=max_text_chars, **(options or {}))


class Worker:
    """Request loop around one parser instance."""

    def __init__(self, parser: Any, memory_mb: int, max_output_bytes: int) -> None:
        self.parser = parser
        self.memory_mb = memory_mb
        self.max_output_bytes = max_output_bytes

    def handle(self, request: dict[str, Any]) -> tuple[bytes, bool]:
        """Parse one file.

        Returns the serialized reply (without the newline) and whether this worker must exit
        after sending it (it broke a limit).
        """
        from ingest.parsers.unstructured import output_limit_reason
        from ingest.types import IngestError

        try:
            document = self.parser.parse(Path(request["path"]), request["file_type"])
        except IngestError as exc:
            if isinstance(exc.__cause__, MemoryError):
                return self._failure(memory_limit_reason(self.memory_mb), restart=True)
            return self._failure(str(exc))
        except MemoryError:
            return self._failure(memory_limit_reason(self.memory_mb), restart=True)
        except RecursionError:
            return self._failure("could not parse this file: its structure is nested too deeply")
        except Exception as exc:  # noqa: BLE001 - any parser failure is a reason, not a crash
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            return self._failure(f"could not parse this file: {reason}")
        chars = sum(len(b.text) for b in document.blocks)
        if chars > self.max_output_bytes:
            return self._failure(output_limit_reason(self.max_output_bytes), restart=True)
        reply = {
            "ok": True,
            "num_pages": document.num_pages,
            "hidden_chars": document.hidden_chars,
            "hidden_by_reason": document.hidden_by_reason,
            "ocr_pages": document.ocr_pages,
            "unread_pages": document.unread_pages,
            "blocks": [[b.text, b.kind, b.page, b.depth]
                       + ([] if b.ocr_confidence is None else [b.ocr_confidence])
                       for b in document.blocks],
        }
        # errors="replace": a lone surrogate from a broken file becomes "?", not a crash.
        data = json.dumps(reply, ensure_ascii=False).encode("utf-8", errors="replace")
        if len(data) > self.max_output_bytes:
            return self._failure(output_limit_reason(self.max_output_bytes), restart=True)
        return data, False

    @staticmethod
    def _failure(reason: str, restart: bool = False) -> tuple[bytes, bool]:
        data = json.dumps({"ok": False, "error": reason, "restart": restart}).encode("utf-8")
        return data, restart


def _send(out: BinaryIO, data: bytes) -> None:
    out.write(data + b"\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the worker until stdin closes (or until a limit was broken)."""
    ap = argparse.ArgumentParser(prog="python -m ingest.parsers.sandbox_worker")
    ap.add_argument("--memory-mb", type=int, required=True)
    ap.add_argument("--max-output-bytes", type=int, required=True)
    ap.add_argument("--max-pages", type=int, required=True)
    ap.add_argument("--parser", default="ingest.parsers.unstructured:UnstructuredParser")
    ap.add_argument("--parser-options", default="", help="extra parser arguments (JSON object)")
    args = ap.parse_args(argv)

    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries go to stderr, not into the protocol
    _set_limits(args.memory_mb)
    for name in _BLOCKED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]

    from config import configure_offline

    configure_offline()  # before unstructured is imported
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()

    try:
        options = json.loads(args.parser_options) if args.parser_options else None
        parser = _load_parser(args.parser, args.max_pages, args.max_output_bytes, options)
        warm_up = getattr(parser, "warm_up", None)
        if warm_up is not None:
            warm_up()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        error = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:400]
        # Out of address space while importing shows up as MemoryError, or as an ImportError
        # from the dynamic loader ("failed to map segment from shared object").
        if isinstance(exc, MemoryError) or _vm_mb() >= 0.75 * args.memory_mb or any(
            hint in str(exc) for hint in ("map segment", "Cannot allocate memory")
        ):
            error = (f"loading the parser needs more than {args.memory_mb} MiB "
                     f"(ingest.sandbox.memory_mb): {error}")
        _send(protocol, json.dumps({"ready": False, "error": error}).encode())
        return 1
    _send(protocol, json.dumps({"ready": True, "pid": os.getpid(), "vm_mb": _vm_mb()}).encode())
    warm_up_rest = getattr(parser, "warm_up_rest", None)
    if warm_up_rest is not None:  # while the first files parse (an import error shows on use)
        threading.Thread(target=warm_up_rest, daemon=True, name="warm-up-rest").start()

    worker = Worker(parser, args.memory_mb, args.max_output_bytes)
    for line in sys.stdin.buffer:
        try:
            reply, restart = worker.handle(json.loads(line))
        except MemoryError:
            reply, restart = Worker._failure(memory_limit_reason(args.memory_mb), True)
        _send(protocol, reply)
        if restart:
            return 0  # a fresh worker takes the next file
    # stdin closed: the parent is done with us. Nothing is left to write or clean up (each
    # parse cleans up after itself), and tearing down the interpreter with unstructured and
    # its libraries loaded took ~1 s that the parent waited out at every exit.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
