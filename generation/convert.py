"""Run a preset's model from a local conversion that llama.cpp reads faster (``run_as``).

llama.cpp reads a prompt with fast matrix kernels only for some weight types (BF16 on CPUs
with bfloat16 arithmetic, Q8_0, Q4_0); the bundled SmolLM2's Q4_1 is read row by row, 2.5
times slower than as BF16 and 1.7-1.9 times slower than as Q8_0 on the same CPU
(``bench/prompt_speed.py``). :func:`runtime_file` gives the file to load: the verified pinned
file, or its conversion to the first of the preset's ``run_as`` types the CPU can use (a type
may require a CPU feature llama.cpp reports, :func:`cpu_features`: BF16 needs AVX512_BF16),
made once by llama.cpp's own quantizer (in a child process: its log goes nowhere and a crash
there cannot take the service down), kept in ``<models_dir>/converted/`` and pinned by its own
SHA-256. Where a conversion cannot be made or does not hash to its pin (a read-only models
folder, another llama.cpp version), the next is tried, then the pinned file is loaded as it is,
with a warning: slower, never a file nobody pinned.

``python -m generation.convert SOURCE TARGET TYPE`` is the child process.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from config.presets import RunAs
from generation.models import LocalModel, Sha256Cache, sha256_file, verify

log = logging.getLogger(__name__)

#: Conversions made or checked in this process, by (pinned file's SHA-256, type): one per
#: process however many models folders it serves.
_CONVERTED: dict[tuple[str, str], Path] = {}
_LOCK = threading.Lock()
_TIMEOUT_S = 600


class ConversionError(RuntimeError):
    """The conversion failed or is not the file the preset pins."""


@functools.lru_cache(maxsize=1)
def cpu_features() -> frozenset[str]:
    """The CPU features llama.cpp reports using (``llama_print_system_info``: AVX512_BF16 ...)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return frozenset(re.findall(r"([A-Z0-9_]+) = 1", info))


def choices(model: LocalModel, features: frozenset[str]) -> list[RunAs]:
    """``model``'s conversions this CPU can use, in the preset's order of preference."""
    run_as = model.preset.run_as if model.preset is not None else ()
    return [r for r in run_as if r.requires is None or r.requires in features]


def converted_path(model: LocalModel, gguf_dir: Path, run_as: RunAs) -> Path:
    """Where ``model``'s conversion to ``run_as.type`` lives in ``gguf_dir``."""
    return gguf_dir / "converted" / f"{model.path.stem}.{run_as.type}.gguf"


@dataclass(frozen=True, slots=True)
class RuntimeFile:
    """The file llama.cpp loads, and the conversion it is (None: the pinned file itself)."""

    path: Path
    run_as: RunAs | None = None


def runtime_file(model: LocalModel, cache: Sha256Cache, gguf_dir: Path | None,
                 features: frozenset[str] | None = None) -> RuntimeFile:
    """The file llama.cpp loads for ``model`` (``gguf_dir`` None: never a conversion).

    The pinned file is verified first (:func:`generation.models.verify`, raises
    :class:`~generation.models.ModelError`); then the first of the preset's conversions the
    CPU can use (``features``: default :func:`cpu_features`) whose size and SHA-256 are the
    ones it pins, made now if it is not there yet; else the pinned file itself.
    """
    digest = verify(model, cache)
    if gguf_dir is None or model.preset is None or not model.preset.run_as:
        return RuntimeFile(model.path)
    with _LOCK:
        for run_as in choices(model, cpu_features() if features is None else features):
            key = (digest, run_as.type)
            known = _CONVERTED.get(key)
            if known is not None and _pinned(known, run_as, cache):
                return RuntimeFile(known, run_as)
            target = converted_path(model, gguf_dir, run_as)
            try:
                if not _pinned(target, run_as, cache):
                    log.info("converting %s to %s once (%s)", model.path.name, run_as.type,
                             target)
                    convert(model.path, target, run_as, cache)
            except (OSError, ConversionError, subprocess.SubprocessError) as exc:
                log.warning("cannot run %s as %s: %s", model.path.name, run_as.type, exc)
                continue
            _CONVERTED[key] = target
            return RuntimeFile(target, run_as)
        log.warning("loading %s as it is (slower prompts, docs/models.md)", model.path.name)
        return RuntimeFile(model.path)


def _pinned(path: Path, run_as: RunAs, cache: Sha256Cache) -> bool:
    return (path.is_file() and path.stat().st_size == run_as.size_bytes
            and cache.sha256(path) == run_as.sha256)


def convert(source: Path, target: Path, run_as: RunAs, cache: Sha256Cache) -> None:
    """Write ``source`` converted to ``run_as.type`` at ``target``, only if it hashes to its pin."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".convert-", suffix=".gguf")
    os.close(fd)
    tmp = Path(name)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "generation.convert", str(source), str(tmp), run_as.type],
            capture_output=True, text=True, timeout=_TIMEOUT_S, check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if done.returncode != 0:
            raise ConversionError(f"llama.cpp's quantizer failed: {done.stderr.strip()[-500:]}")
        if tmp.stat().st_size != run_as.size_bytes:
            raise ConversionError(f"the conversion has {tmp.stat().st_size} bytes, the preset "
                                  f"pins {run_as.size_bytes} (another llama.cpp version?)")
        digest = sha256_file(tmp)
        if digest != run_as.sha256:
            raise ConversionError(f"the conversion's SHA-256 is {digest}, the preset pins "
                                  f"{run_as.sha256} (another llama.cpp version?)")
        os.chmod(tmp, 0o644)  # readable by the service account, like the models
        os.replace(tmp, target)
        cache.remember(target, digest)
    finally:
        tmp.unlink(missing_ok=True)


def _quantize(source: str, target: str, type_: str) -> int:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{type_}")
    params.allow_requantize = True  # the source is already quantized (Q4_1)
    params.nthread = os.cpu_count() or 1  # the output does not depend on it
    return int(llama_cpp.llama_model_quantize(source.encode(), target.encode(),
                                              ctypes.byref(params)))


def main(argv: list[str]) -> int:
    """Child process: quantize ``SOURCE`` to ``TARGET`` as ``TYPE``; llama.cpp's 0 on success."""
    if len(argv) != 3 or argv[2] not in get_args(RunAs.model_fields["type"].annotation):
        print("usage: python -m generation.convert SOURCE TARGET BF16|Q8_0", file=sys.stderr)
        return 2
    return _quantize(*argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
