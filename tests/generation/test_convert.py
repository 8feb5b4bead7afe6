"""The bundled model runs from its pinned local BF16 or Q8_0 conversion (preset ``run_as``).

The real bundled file and llama.cpp's real quantizer: the conversion is made once, hashes to
the preset's pin, is reused, and anything that goes wrong loads the pinned file as it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config.presets import BUILTIN_PRESETS
from config.settings import GenerationSettings
from generation import convert
from generation.convert import converted_path, runtime_file
from generation.models import ModelError, Sha256Cache, hash_cache, resolve_local_model

pytestmark = [pytest.mark.integration]

BUNDLED = BUILTIN_PRESETS["smollm2-135m"]
Q8_0 = next(r for r in BUNDLED.run_as if r.type == "Q8_0")
ANY_CPU: frozenset[str] = frozenset()  # no CPU feature: the conversions any CPU may use


@pytest.fixture(autouse=True)
def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no conversion or hash known in memory."""
    monkeypatch.setattr(convert, "_CONVERTED", {})
    monkeypatch.setattr(Sha256Cache, "_memory", {})


def _bundled(tmp_path: Path, **preset: object):  # type: ignore[no-untyped-def]
    gen = GenerationSettings(presets={"p": BUNDLED.model_copy(update=preset)}, preset="p")
    return resolve_local_model(gen, tmp_path)


@pytest.mark.parametrize(("features", "kind"), [
    (frozenset(), "Q8_0"),  # any CPU
    (frozenset({"AVX2", "AVX512_BF16"}), "BF16"),  # bfloat16 arithmetic: BF16 first
])
def test_the_bundled_model_is_converted_once_to_its_pinned_type(
        tmp_path: Path, features: frozenset[str], kind: str) -> None:
    model = _bundled(tmp_path)
    run_as = next(r for r in BUNDLED.run_as if r.type == kind)
    made = runtime_file(model, hash_cache(tmp_path), tmp_path, features)
    assert made.run_as == run_as
    path = made.path
    assert path == converted_path(model, tmp_path, run_as) and path != model.path
    assert path.stat().st_size == run_as.size_bytes
    assert hash_cache(tmp_path).sha256(path) == run_as.sha256
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind

    # a new process finds it on disk: not converted again (same file, same mtime)
    stamp = path.stat().st_mtime_ns
    convert._CONVERTED.clear()
    assert runtime_file(model, hash_cache(tmp_path), tmp_path, features).path == path
    assert path.stat().st_mtime_ns == stamp

    # another models folder in the same process reuses the conversion already made
    other = tmp_path / "other"
    assert runtime_file(_bundled(other), hash_cache(other), other, features).path == path
    assert not (other / "converted").exists()


def test_a_tampered_conversion_is_made_again(tmp_path: Path) -> None:
    model = _bundled(tmp_path)
    path = runtime_file(model, hash_cache(tmp_path), tmp_path, ANY_CPU).path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    convert._CONVERTED.clear()
    assert runtime_file(model, hash_cache(tmp_path), tmp_path, ANY_CPU).path == path
    assert hash_cache(tmp_path).sha256(path) == Q8_0.sha256


def test_a_conversion_that_is_not_the_pinned_one_loads_the_pinned_file(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Another llama.cpp version writing other bytes: the next choice, then the pinned file."""
    wrong = Q8_0.model_copy(update={"sha256": "0" * 64})
    model = _bundled(tmp_path, run_as=(wrong, Q8_0))
    with caplog.at_level(logging.WARNING, logger="generation.convert"):
        made = runtime_file(model, hash_cache(tmp_path), tmp_path, ANY_CPU)
    assert made.run_as == Q8_0 and "the preset pins 000" in caplog.text

    caplog.clear()
    model = _bundled(tmp_path / "alone", run_as=(wrong,))
    with caplog.at_level(logging.WARNING, logger="generation.convert"):
        made = runtime_file(model, hash_cache(tmp_path), tmp_path / "alone", ANY_CPU)
    assert made.path == model.path and made.run_as is None
    assert "the preset pins 000" in caplog.text and "as it is" in caplog.text
    assert list((tmp_path / "alone" / "converted").iterdir()) == []  # the unpinned file went


def test_a_models_folder_that_cannot_be_written_loads_the_pinned_file(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    model = _bundled(blocked)
    assert runtime_file(model, hash_cache(tmp_path), blocked, ANY_CPU).path == model.path


def test_the_pinned_file_is_still_verified_first(tmp_path: Path) -> None:
    model = _bundled(tmp_path, sha256="1" * 64)
    with pytest.raises(ModelError, match="is not the file the preset"):
        runtime_file(model, hash_cache(tmp_path), tmp_path, ANY_CPU)
    assert not (tmp_path / "converted").exists()


def test_no_conversion_without_run_as_or_when_turned_off(tmp_path: Path) -> None:
    model = _bundled(tmp_path, run_as=())
    assert runtime_file(model, hash_cache(tmp_path), tmp_path, ANY_CPU).path == model.path
    assert runtime_file(_bundled(tmp_path), hash_cache(tmp_path), None).path == model.path
    bf16_only = _bundled(tmp_path, run_as=tuple(r for r in BUNDLED.run_as if r.requires))
    assert runtime_file(bf16_only, hash_cache(tmp_path), tmp_path, ANY_CPU).path == model.path
    assert not (tmp_path / "converted").exists()


def test_cpu_features_are_read_from_llama_cpp() -> None:
    features = convert.cpu_features()
    assert features and all(f.isupper() for f in features)  # e.g. AVX2, AVX512_BF16, NEON


def test_the_child_process_refuses_a_type_no_preset_can_name() -> None:
    assert convert.main(["a.gguf", "b.gguf", "Q2_K"]) == 2
    assert convert.main(["a.gguf", "b.gguf"]) == 2


@pytest.mark.slow
def test_the_generator_runs_the_conversion_and_the_admin_page_says_so(tmp_path: Path) -> None:
    from generation.stack import build_generator
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    generator = build_generator(settings)
    text = "".join(generator.stream([{"role": "user", "content": "Say hello."}], 8, 0.1))
    assert text.strip()
    loaded = generator.loaded  # type: ignore[attr-defined]
    assert loaded is not None and loaded.run_as is not None
    expected = "BF16" if "AVX512_BF16" in convert.cpu_features() else "Q8_0"
    assert loaded.run_as.type == expected and loaded.path.name.endswith(f".{expected}.gguf")
    info = generator.model_info()
    assert info.runs_as is not None and expected in info.runs_as
    assert str(loaded.path) in info.runs_as
    assert info.sha256 == BUNDLED.sha256  # the record names the pinned model
    assert generator.model_name == "SmolLM2-135M-Instruct.Q4_1.gguf"

    off = build_generator(make_settings(tmp_path / "off", generation={"convert_models": False}))
    list(off.stream([{"role": "user", "content": "Say hello."}], 2, 0.1))
    assert off.loaded.path == resolve_local_model(  # type: ignore[attr-defined]
        settings.generation, settings.gguf_dir).path
    assert off.model_info().runs_as is None
