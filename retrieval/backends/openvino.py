"""The same ONNX export of the embedding model, run by OpenVINO in bfloat16 where the CPU has it.

OpenVINO compiles the float32 export of :mod:`retrieval.backends.onnx` (the file the ``onnx``
backend uses, exported locally once, never downloaded) for the CPU. On CPUs with bfloat16
arithmetic (AVX512-BF16, AMX: recent Xeon and EPYC) it runs the model in bf16: on this
project's 2-core EPYC about 1.2x the batch throughput of ONNX Runtime's int8 model, with
vectors at cosine 0.9998 to float32 where int8's fall to 0.93 for some passages
(``bench/embedding_backends.py`` measures both). Without bf16 it would run in float32, slower
than int8: ``embedding.backend: auto`` therefore picks this backend only where the CPU reports
bf16 (:func:`openvino_bf16_available`) and ONNX Runtime int8 elsewhere.

Only OpenVINO's runtime is used (``Core.read_model`` / ``compile_model``). ``openvino`` is
installed without its dependency ``openvino_telemetry`` (``requirements-nodeps.txt``): the
model converter, the only part that would send usage data and which Enclave never calls,
then falls back to its built-in no-op stub (a test checks it).
"""

from __future__ import annotations

import functools
import logging
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import EmbeddingSettings
from retrieval.backends.onnx import OnnxEmbedder

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def openvino_bf16_available() -> bool:
    """True when OpenVINO is installed and its CPU plugin reports bfloat16 arithmetic."""
    try:
        import openvino as ov
    except ImportError:
        return False
    try:
        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001 - no usable CPU plugin: not available
        return False
    return "BF16" in {str(c).upper() for c in caps}


class OpenVinoEmbedder(OnnxEmbedder):
    """:class:`OnnxEmbedder` with OpenVINO as the runtime (``embedding.backend: openvino``).

    ``precision`` is OpenVINO's inference precision hint: ``bf16`` (falls back to float32 on
    CPUs without bf16) or ``f32``.
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path,
                 precision: str = "bf16") -> None:
        super().__init__(settings, cache_dir, quantize=False)
        self.precision = precision

    @cached_property
    def _runtime(self) -> Any:
        """The compiled model's infer request (one: ``_encode`` runs one batch at a time)."""
        return self._compiled.create_infer_request()

    @cached_property
    def _compiled(self) -> Any:
        import os

        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(self.onnx_file))
        self._inputs = [port.get_any_name() for port in model.inputs]
        compiled = core.compile_model(model, "CPU", {
            "INFERENCE_PRECISION_HINT": self.precision,
            "INFERENCE_NUM_THREADS": self._settings.threads or (os.cpu_count() or 1),
            "NUM_STREAMS": 1,  # one request at a time (the lock in _encode) uses every thread
        })
        log.info("embedding with OpenVINO (%s) on %s", self.precision,
                 core.get_property("CPU", "FULL_DEVICE_NAME"))
        return compiled

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        request = self._runtime
        result = request.infer({name: feed[name] for name in self._inputs})
        return np.asarray(result[self._compiled.outputs[0]], dtype=np.float32)
