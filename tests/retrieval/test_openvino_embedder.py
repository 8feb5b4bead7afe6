"""The OpenVINO embedders: the float32 ONNX export run in bfloat16 where the CPU has it, and
the model quantized to int8 by NNCF (``openvino-int8``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from config.settings import EmbeddingSettings
from retrieval.backends.onnx import OnnxEmbedder
from retrieval.backends.openvino import (
    OpenVinoEmbedder,
    OpenVinoInt8Embedder,
    calibration_texts,
    openvino_available,
    openvino_bf16_available,
    vnni_available,
)
from retrieval.stack import resolve_embedding_backend

pytestmark = pytest.mark.integration

TEXTS = [
    "What is the daily meal allowance on business trips?",
    "The daily meal allowance is EUR 45 for domestic trips and EUR 60 for international trips.",
    "zsh completion: compinit loads the completion system; compdef binds a function.",
    "x" * 3000,  # longer than the window: truncated like the other backends
]


@pytest.fixture(scope="module")
def fp32_vectors() -> np.ndarray:
    from config import load_settings

    return OnnxEmbedder(EmbeddingSettings(backend="onnx"), load_settings().models_dir,
                        quantize=False).embed_documents(TEXTS * 3)


@pytest.mark.parametrize("precision", ["bf16", "f32"])
def test_openvino_vectors_match_float32(fp32_vectors: np.ndarray, precision: str) -> None:
    from config import load_settings

    emb = OpenVinoEmbedder(EmbeddingSettings(backend="openvino"), load_settings().models_dir,
                           precision=precision)
    vectors = emb.embed_documents(TEXTS * 3)  # several batches' worth of shapes
    assert vectors.shape == fp32_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    cosines = (vectors * fp32_vectors).sum(axis=1)
    # bf16 keeps float32's ranking (int8 falls to ~0.93 on some passages: see the module doc).
    assert cosines.min() >= (0.999 if precision == "f32" else 0.995), cosines
    query = emb.embed_query(TEXTS[0])
    assert int(np.argmax(vectors[:4] @ query)) == 0


def test_auto_backend_follows_the_cpu() -> None:
    expected = ("openvino-int8" if openvino_available() and vnni_available() else
                "openvino" if openvino_bf16_available() else "onnx-int8")
    assert resolve_embedding_backend("auto") == expected
    assert resolve_embedding_backend("onnx") == "onnx"


def test_auto_backend_prefers_int8_arithmetic_then_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.stack as stack

    for vnni, bf16, expected in [(True, True, "openvino-int8"), (True, False, "openvino-int8"),
                                 (False, True, "openvino"), (False, False, "onnx-int8")]:
        monkeypatch.setattr(stack, "vnni_available", lambda v=vnni: v)
        monkeypatch.setattr(stack, "openvino_bf16_available", lambda b=bf16: b)
        assert stack.resolve_embedding_backend("auto") == expected, (vnni, bf16)


def test_int8_model_is_made_once_and_stays_close_to_float32(
        fp32_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = EmbeddingSettings(backend="openvino-int8")
    # An empty cache: the export and NNCF's quantization run here (about 30 s), whatever the
    # machine's own model cache already holds.
    first = OpenVinoInt8Embedder(settings, tmp_path)
    vectors = first.embed_documents(TEXTS * 3)
    assert vectors.shape == fp32_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    cosines = (vectors * fp32_vectors).sum(axis=1)
    assert cosines.min() >= 0.98, cosines  # measured 0.9976 mean, 0.9926 min on 800 passages
    assert int(np.argmax(vectors[:4] @ first.embed_query(TEXTS[0]))) == 0
    xml = first.onnx_file
    assert xml.parent == tmp_path and xml.suffix == ".xml" and xml.with_suffix(".bin").exists()
    # The model (.xml + .bin) and the tokenizer (.json, retrieval/backends/tokens.py), each
    # with its lock file; no debris.
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".bin", ".json", ".lock", ".lock",
                                                           ".xml"]

    # A second process (here: embedder) loads the cached model; it never quantizes again.
    def no_quantizing(*_a: object) -> None:
        raise AssertionError("quantized again")

    monkeypatch.setattr(OpenVinoInt8Embedder, "_quantize_to", no_quantizing)
    again = OpenVinoInt8Embedder(settings, tmp_path)
    assert again.onnx_file == xml
    assert np.allclose(again.embed_documents(TEXTS[:2]), vectors[:2], atol=1e-5)


def test_calibration_texts_are_shipped() -> None:
    texts = calibration_texts()
    assert len(texts) == 160 and all(20 < len(t) <= 1000 for t in texts)
    assert any("```" in t or "    " in t for t in texts)  # commands and code, not prose only


def _last_line_printed(code: str) -> tuple[str, str]:
    """The last line ``code`` prints in a fresh interpreter (outside pytest), and all output."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    return out.stdout.strip().splitlines()[-1], out.stdout + out.stderr


def test_nncf_sends_no_telemetry() -> None:
    """nncf is installed without openvino_telemetry (requirements-nodeps): NNCF's telemetry
    object is then its no-op stub. Run without configure_offline, whose NNCF_CI would pick
    the stub anyway, and outside pytest, where NNCF picks it too: the install alone decides."""
    last, output = _last_line_printed(
        "import importlib.util\n"
        "import nncf.telemetry.wrapper as w\n"
        "print(importlib.util.find_spec('openvino_telemetry') is None,"
        " type(w.telemetry).__name__)\n"
    )
    assert last == "True MagicMock", output


def test_openvino_runs_without_its_telemetry() -> None:
    """openvino is installed without its dependency openvino_telemetry (requirements-nodeps):
    its model converter, which `import openvino` loads, then uses its own no-op stub, and the
    runtime (all Enclave calls) never needs it."""
    last, output = _last_line_printed(
        "import importlib.util, sys\n"
        "from config import configure_offline, load_settings\n"
        "configure_offline()\n"
        "from retrieval.backends.openvino import OpenVinoEmbedder\n"
        "from config.settings import EmbeddingSettings\n"
        "e = OpenVinoEmbedder(EmbeddingSettings(backend='openvino'), load_settings().models_dir)\n"
        "e.embed_documents(['a passage'])\n"
        "tm = sys.modules['openvino.tools.ovc.telemetry_utils'].tm.__name__\n"
        "print(importlib.util.find_spec('openvino_telemetry') is None, tm)\n"
    )
    assert last == "True openvino.tools.ovc.telemetry_stub", output


def test_every_request_has_run_once_before_lanes_share_it() -> None:
    """Two lanes making their first runs at once deadlocked OpenVINO's Python bindings (a
    static initialised under one thread's guard while another held the GIL: 5 of 8 ingests of
    the Node.js pages hung, none of 6 with this warm-up run)."""
    from config import load_settings

    emb = OpenVinoInt8Embedder(EmbeddingSettings(threads=3), load_settings().models_dir)
    loaded = emb._loaded
    assert len(loaded.requests) == 3 and loaded.free.qsize() == 3
    for request in loaded.requests:
        assert tuple(request.get_output_tensor(0).shape) == (1, emb.dimension)
