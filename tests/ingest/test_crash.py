"""SECURITY row 14: SIGKILL a batch ingest at random moments, restart, check the invariant.

Runs the loop of bench/crash_consistency.py (25 iterations here; 200 in the benchmark),
every iteration checked. ENCLAVE_CRASH_ITERATIONS overrides the count.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.crash_consistency import crash_loop

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_crash_loop_keeps_catalog_and_index_consistent(tmp_path: Path) -> None:
    iterations = int(os.environ.get("ENCLAVE_CRASH_ITERATIONS", "25"))
    report = crash_loop(tmp_path, iterations, seed=1)
    assert report.iterations == iterations
    assert report.killed >= iterations // 3, report  # most kills really interrupt work
    assert report.finished_before_kill >= 1, report  # and some jobs finish: new work follows
