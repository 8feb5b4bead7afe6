"""``python -m ingest``: per-file lines, JSON, exit codes, --check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENCLAVE_DATA_DIR": str(data_dir), "ENCLAVE_PROFILE": "test"}
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_reports_each_file_and_fails_with_status_1(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# Guide\n\nThe printer is on floor 2.\n")
    (docs / "bad.pdf").write_bytes(b"nope")
    data = tmp_path / "data"
    out = _run(data, str(docs), "--collection", "team")
    assert out.returncode == 1
    assert "added      ok.md (1 chunks)" in out.stdout
    assert "FAILED     bad.pdf: not a valid PDF file" in out.stdout
    assert "1 added, 0 replaced, 0 unchanged, 1 failed (2 files)" in out.stdout

    again = _run(data, str(docs / "ok.md"), "--collection", "team", "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["results"][0]["status"] == "unchanged"

    check = _run(data, "--check")
    assert check.returncode == 0 and "consistent" in check.stdout

    # --restrict-to: the same content re-ingested gets the restriction too (no silent skip).
    restricted = _run(data, str(docs / "ok.md"), "--collection", "team", "--restrict-to", "hr")
    assert restricted.returncode == 0 and "new group(s) hr" in restricted.stderr
    from db.engine import make_engine, session_factory
    from db.models import Document
    from retrieval.acl import document_restrictions

    sessions = session_factory(make_engine(f"sqlite:///{data / 'enclave.db'}"))
    with sessions() as session:
        doc = session.query(Document).filter_by(name="ok.md").one()
        assert document_restrictions(session, doc.id) == {"hr"}


def test_cli_usage_errors(tmp_path: Path) -> None:
    assert _run(tmp_path, "x.md").returncode == 2
    bad_name = _run(tmp_path, str(tmp_path), "--collection", "../etc")
    assert bad_name.returncode == 2 and "invalid collection name" in bad_name.stderr
    missing = _run(tmp_path, str(tmp_path / "nope"), "--collection", "c")
    assert missing.returncode == 2 and "no such file" in missing.stderr
