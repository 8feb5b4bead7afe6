"""The sandbox worker leaves at once when its parent closes stdin.

Keep this module's top-level imports light: the worker imports it.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class TeardownReportingParser:
    """A fake parser (runs in the worker): says so on stderr if the interpreter is torn down."""

    def __init__(self, max_pages: int, max_text_chars: int) -> None:
        atexit.register(lambda: print("interpreter torn down", file=sys.stderr, flush=True))


def test_worker_exits_without_tearing_down_its_interpreter() -> None:
    """Tearing down an interpreter with unstructured loaded took ~1 s, which every parent
    waited out at exit (``python -m ingest``): the worker has nothing to clean up by then."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.parsers.sandbox_worker", "--memory-mb", "2048",
         "--max-output-bytes", "100000", "--max-pages", "10",
         "--parser", f"{__name__}:TeardownReportingParser"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stdin is not None
    assert b'"ready": true' in proc.stdout.readline()
    assert proc.stderr is not None
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read()
    assert b"interpreter torn down" not in err
