"""Nothing leaves the machine: ingest + ask in fresh processes with the network blocked.

The child processes start without any HF_*/DO_NOT_TRACK variables (Enclave must set them
itself), with a guard that blocks and records every non-loopback connect, UDP send and DNS
look-up (tests/netguard/sitecustomize.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _env(tmp_path: Path, log: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "TRANSFORMERS_", "DO_NOT_TRACK", "SCARF_", "ENCLAVE_"))}
    env.update({
        "PYTHONPATH": str(REPO / "tests" / "netguard"),
        "ENCLAVE_NETGUARD_LOG": str(log),
        "ENCLAVE_DATA_DIR": str(tmp_path / "data"),
        "ENCLAVE_PROFILE": "test",
    })
    return env


def test_guard_really_blocks(tmp_path: Path) -> None:
    log = tmp_path / "net.log"
    code = "import urllib.request; urllib.request.urlopen('http://example.com', timeout=3)"
    out = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path, log),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "example.com" in log.read_text()


def test_ingest_and_ask_with_network_blocked(tmp_path: Path, sample_corpus: Path) -> None:
    log = tmp_path / "net.log"
    env = _env(tmp_path, log)
    ingest = subprocess.run(
        [sys.executable, "-m", "ingest", str(sample_corpus), "--collection", "handbook", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    results = json.loads(ingest.stdout)["results"]
    assert sorted(r["status"] for r in results) == ["added"] * 4

    ask = subprocess.run(
        [sys.executable, "-m", "generation", "What is the daily meal allowance?",
         "--collection", "handbook", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert ask.returncode == 0, ask.stderr[-3000:]
    answer = json.loads(ask.stdout)
    assert answer["citations"] and answer["citations"][0]["document"] == "travel-and-expenses.pdf"
    assert {"n", "document", "page", "quote", "chunk_id"} <= set(answer["citations"][0])

    assert not log.exists() or log.read_text() == "", log.read_text()
    # unstructured's spaCy model was not downloaded behind our back either
    assert importlib.util.find_spec("en_core_web_sm") is None
