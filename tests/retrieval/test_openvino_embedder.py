"""The OpenVINO embedder: the float32 ONNX export run in bfloat16 where the CPU has it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from config.settings import EmbeddingSettings
from retrieval.backends.onnx import OnnxEmbedder
from retrieval.backends.openvino import OpenVinoEmbedder, openvino_bf16_available
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
    expected = "openvino" if openvino_bf16_available() else "onnx-int8"
    assert resolve_embedding_backend("auto") == expected
    assert resolve_embedding_backend("onnx") == "onnx"


def test_openvino_runs_without_its_telemetry() -> None:
    """openvino is installed without its dependency openvino_telemetry (requirements-nodeps):
    its model converter, which `import openvino` loads, then uses its own no-op stub, and the
    runtime (all Enclave calls) never needs it."""
    code = (
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
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "True openvino.tools.ovc.telemetry_stub", (
        out.stdout + out.stderr)
