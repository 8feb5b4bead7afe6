"""GGUF metadata header reader: synthetic files and the bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest

from generation.gguf import GGUFError, read_metadata
from tests.generation.gguf_files import write_gguf


def test_reads_strings_and_numbers_after_skipping_arrays(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", {"general.name": "Tiny", "general.license": "mit",
                                            "tiny.context_length": 4096}, vocabulary=50)
    assert read_metadata(path) == {"general.name": "Tiny", "general.license": "mit",
                                   "tiny.context_length": 4096}
    assert read_metadata(path, ["general.license"]) == {"general.license": "mit"}
    assert read_metadata(path, ["general.nothing"]) == {}


def test_refuses_what_is_not_gguf(tmp_path: Path) -> None:
    (tmp_path / "x.gguf").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_metadata(tmp_path / "x.gguf")
    truncated = write_gguf(tmp_path / "t.gguf", {"general.name": "Tiny"})
    truncated.write_bytes(truncated.read_bytes()[:40])
    with pytest.raises(GGUFError, match="ends inside"):
        read_metadata(truncated)


def test_reads_the_bundled_model() -> None:
    from config.presets import BUILTIN_PRESETS
    from generation.models import preset_file

    meta = read_metadata(preset_file(BUILTIN_PRESETS["smollm2-135m"], Path("unused")))
    assert meta["general.architecture"] == "llama"
