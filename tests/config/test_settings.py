from pathlib import Path

import pytest

from config import ConfigError, load_settings


def test_defaults_are_the_embedded_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ENCLAVE_PROFILE", "ENCLAVE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.profile == "default"
    assert s.data_dir == Path("var")
    assert s.catalog_url.startswith("sqlite:///") and s.catalog_url.endswith("var/enclave.db")
    assert s.generation.backend == "llamacpp"
    assert s.web.host == "127.0.0.1" and s.web.port == 8000


def test_env_overrides_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENCLAVE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENCLAVE_GENERATION__BACKEND", "openai")
    monkeypatch.setenv("ENCLAVE_RETRIEVAL__TOP_K", "7")
    s = load_settings()
    assert s.data_dir == tmp_path
    assert s.generation.backend == "openai"
    assert s.retrieval.top_k == 7


def test_profile_file_is_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENCLAVE_WEB__MAX_UPLOAD_MB", raising=False)
    s = load_settings(profile="test")
    assert s.profile == "test"
    assert s.web.max_upload_mb == 2  # from settings-test.yaml
    assert s.web.port == 8000  # still from settings.yaml


def test_bad_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_GENERATION__BACKEND", "telepathy")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "generation.backend" in str(err.value)
    assert "ENCLAVE_GENERATION__BACKEND" in str(err.value)


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("retrieval:\n  top_kk: 3\n")
    with pytest.raises(ConfigError, match="retrieval.top_kk"):
        load_settings(config_dir=tmp_path)


def test_unknown_profile_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="no file"):
        load_settings(profile="nope")


def test_invalid_yaml_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("retrieval: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(config_dir=tmp_path)


def test_overlap_must_be_smaller_than_chunk() -> None:
    with pytest.raises(ConfigError, match="overlap_tokens"):
        load_settings(overrides={"chunking": {"max_tokens": 64, "overlap_tokens": 64}})


def test_every_field_is_described() -> None:
    from pydantic import BaseModel

    from config.settings import Settings

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                missing += walk(ann, f"{prefix}{name}.")
            elif not field.description:
                missing.append(prefix + name)
        return missing

    assert walk(Settings, "") == []
