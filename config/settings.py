"""Enclave's typed settings.

One :class:`Settings` object is built once at each entry point by :func:`load_settings`
from ``config/settings.yaml``, an optional ``config/settings-<profile>.yaml`` (profile from
``ENCLAVE_PROFILE``) and ``ENCLAVE_*`` environment variables, and then passed explicitly.
Nothing here is read at import time.

Environment variables override YAML: ``ENCLAVE_DATA_DIR=/srv/enclave`` sets ``data_dir``,
nested keys use a double underscore: ``ENCLAVE_GENERATION__BACKEND=openai``.

The section models (``EmbeddingSettings``, ``RetrievalSettings``...) live in
:mod:`config.sections` and are re-exported here: ``config.settings`` is the public entry point.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.sections import (
    AbstentionSettings,
    AuthSettings,
    ChunkingSettings,
    EmbeddingSettings,
    GenerationSettings,
    IngestSettings,
    JobsSettings,
    LdapSettings,
    RetrievalSettings,
    SandboxSettings,
    WebSettings,
)

__all__ = [
    "CONFIG_DIR",
    "REPO_ROOT",
    "AbstentionSettings",
    "AuthSettings",
    "ChunkingSettings",
    "ConfigError",
    "EmbeddingSettings",
    "GenerationSettings",
    "IngestSettings",
    "JobsSettings",
    "LdapSettings",
    "RetrievalSettings",
    "SandboxSettings",
    "Settings",
    "WebSettings",
    "deep_merge",
    "load_settings",
]

CONFIG_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONFIG_DIR.parent


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the offending key."""


class Settings(BaseSettings):
    """All of Enclave's settings. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="ENCLAVE_", env_nested_delimiter="__", extra="forbid"
    )

    profile: str = Field("default", description="Active profile name (ENCLAVE_PROFILE).")
    data_dir: Path = Field(
        Path("var"), description="Where the catalog, index and uploads live (ENCLAVE_DATA_DIR)."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the catalog. Empty: SQLite in data_dir."
    )
    database_auto_upgrade: bool = Field(
        True,
        description="Migrate the database to this release's schema at start-up. Off: start-up "
        "refuses an out-of-date database; run `python -m web upgrade` yourself.",
    )
    offline: bool = Field(
        True, description="Force hub libraries offline and telemetry off (always on by default)."
    )
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment variables beat YAML (which arrives as init kwargs)."""
        return (env_settings, init_settings)

    @property
    def catalog_url(self) -> str:
        """The catalog's SQLAlchemy URL, defaulting to SQLite inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'enclave.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        """Folder holding one FAISS index file per collection."""
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        """Folder holding models derived locally (the ONNX exports of the embedding model)."""
        if self.embedding.cache_dir:
            return Path(self.embedding.cache_dir)
        home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        user_cache = home / "enclave" / "models"
        try:
            user_cache.mkdir(parents=True, exist_ok=True)
        except OSError:
            return self.data_dir / "models"
        return user_cache if os.access(user_cache, os.W_OK) else self.data_dir / "models"

    @property
    def gguf_dir(self) -> Path:
        """Folder of the answering models' GGUF files (``generation.models_dir``)."""
        if self.generation.models_dir:
            return Path(self.generation.models_dir)
        return self.models_dir / "gguf"

    @property
    def uploads_dir(self) -> Path:
        """Folder holding uploaded originals under server-generated names."""
        return self.data_dir / "uploads"


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base`` recursively (mappings merge, other values replace)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of settings")
    return data


def load_settings(
    profile: str | None = None,
    config_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings once: YAML base, profile YAML, ``overrides``, then ``ENCLAVE_*``.

    Raises :class:`ConfigError` naming the offending key when a value is invalid.
    """
    config_dir = config_dir or Path(os.environ.get("ENCLAVE_CONFIG_DIR", CONFIG_DIR))
    profile = profile or os.environ.get("ENCLAVE_PROFILE") or "default"
    data: dict[str, Any] = {}
    base = config_dir / "settings.yaml"
    if base.exists():
        data = _read_yaml(base)
    if profile != "default":
        profile_file = config_dir / f"settings-{profile}.yaml"
        if not profile_file.exists():
            raise ConfigError(f"ENCLAVE_PROFILE={profile!r}: no file {profile_file}")
        data = deep_merge(data, _read_yaml(profile_file))
    if overrides:
        data = deep_merge(data, overrides)
    data["profile"] = profile
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = "ENCLAVE_" + "__".join(str(p) for p in err["loc"]).upper()
            problems.append(f"  {key}: {err['msg']} (set in config YAML or {env})")
        raise ConfigError("invalid Enclave settings:\n" + "\n".join(problems)) from exc
