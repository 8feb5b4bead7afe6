"""``python -m ingest --rebuild-index``: a collection's vector index changes structure
(Flat <-> IVF) atomically under the writer lock; SIGKILL at any moment of a rebuild leaves a
loadable index and a consistent catalog (SECURITY row 14 for rebuilds)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "ENCLAVE_DATA_DIR": str(data_dir), "ENCLAVE_PROFILE": "test"}


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=REPO,
                          env=_env(data_dir), capture_output=True, text=True, timeout=600)


def test_rebuild_changes_structure_and_search_goes_on(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"memo-{i}.md").write_text(
            f"# Memo {i}\n\nThe parking permit for bay {i} renews every {i + 2} months.\n")
    (docs / "fire.md").write_text("# Fire drill\n\nAssemble at the north gate for the drill.\n")
    data = tmp_path / "data"
    assert _run(data, str(docs), "--collection", "team").returncode == 0

    out = _run(data, "--rebuild-index", "--collection", "team", "--factory", "IVF4,Flat",
               "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rebuilt"] == ["team: 13 vectors, Flat -> IVF4,Flat"]
    assert isinstance(faiss.read_index(str(data / "index" / "collection-1.faiss")),
                      faiss.IndexIVF)
    check = _run(data, "--check")
    assert check.returncode == 0 and "consistent" in check.stdout, check.stdout
    # Ingest and search go on with the new structure.
    (docs / "fire.md").write_text("# Fire drill\n\nAssemble at the south car park.\n")
    assert _run(data, str(docs / "fire.md"), "--collection", "team").returncode == 0
    search = subprocess.run([sys.executable, "-m", "retrieval", "south car park", "-c", "team",
                             "--json"], cwd=REPO, env=_env(data), capture_output=True,
                            text=True, timeout=600)
    assert search.returncode == 0, search.stderr
    assert "south car park" in json.loads(search.stdout)["hits"][0]["text"]
    # auto: this small collection goes back to Flat.
    auto = _run(data, "--rebuild-index")
    assert auto.returncode == 0 and "IVF4,Flat -> Flat" in auto.stdout, auto.stdout

    assert _run(data, "--rebuild-index", "--collection", "nope").returncode == 2
    bad = _run(data, "--rebuild-index", "--factory", "IVF4096,Flat")
    assert bad.returncode == 2 and "needs at least 4096 vectors" in bad.stderr


@pytest.mark.slow
def test_sigkill_during_rebuild_leaves_a_loadable_index_and_a_consistent_catalog(
        tmp_path: Path) -> None:
    from bench.scale import build

    data = tmp_path / "data"
    build(20_000, data)  # catalog, keyword index and a Flat index of 20,000 chunks
    index_file = data / "index" / "collection-1.faiss"
    rng = random.Random(3)
    t0 = time.monotonic()
    full = _run(data, "--rebuild-index", "--factory", "IVF128,SQ8")
    full_s = time.monotonic() - t0
    assert full.returncode == 0, full.stderr
    structures = set()
    killed = 0
    for i in range(6):
        factory = "IVF128,Flat" if i % 2 == 0 else "Flat"
        proc = subprocess.Popen([sys.executable, "-m", "ingest", "--rebuild-index",
                                 "--factory", factory], cwd=REPO, env=_env(data),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.3, full_s))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        index = faiss.read_index(str(index_file))  # loads: the old file or the new one
        assert index.ntotal == 20_000
        structures.add(type(index).__name__)
        check = _run(data, "--check", "--repair")
        assert check.returncode == 0, check.stdout
        assert not list((data / "index").glob(".*.tmp")), "the restart removed temp files"
        assert "consistent" in _run(data, "--check").stdout
    assert killed >= 2
