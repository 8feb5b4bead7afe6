"""The embedding model run by OpenVINO: in bfloat16 where the CPU has it, or quantized to int8.

``openvino``: OpenVINO compiles the float32 export of :mod:`retrieval.backends.onnx` (the file
the ``onnx`` backend uses, exported locally once, never downloaded) for the CPU. On CPUs with
bfloat16 arithmetic (AVX512-BF16, AMX: recent Xeon and EPYC) it runs the model in bf16, with
vectors at cosine 0.9998 to float32 (``bench/embedding_backends.py`` measures every backend).
Without bf16 it would run in float32, slower than int8.

``openvino-int8`` (:class:`OpenVinoInt8Embedder`): the model quantized once per machine by
NNCF, weights and activations, so every matrix product runs on the CPU's int8 dot products
(AVX512-VNNI, AVX-VNNI, AMX). ``embedding.backend: auto`` picks it where the CPU has them
(:func:`vnni_available`), ``openvino`` on other CPUs with bf16
(:func:`openvino_bf16_available`) and ONNX Runtime int8 elsewhere.

Only OpenVINO's runtime and NNCF's post-training quantization are used. ``openvino`` and
``nncf`` are installed without their dependency ``openvino_telemetry``
(``requirements-nodeps.txt``): OpenVINO's model converter, which Enclave never calls, and NNCF
then fall back to their built-in no-op stubs and send no usage data (tests check both).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import EmbeddingSettings
from retrieval.backends.onnx import OnnxEmbedder, export_onnx, model_key, warm_up_feed

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def openvino_available() -> bool:
    """True when OpenVINO and NNCF are installed (the openvino-int8 backend can be made)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("openvino", "nncf"))


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
        # On CPUs with AMX (tiles of 16 rows) batches padded to a multiple of 16 tokens ran
        # faster, though longer: int8, the Node.js API pages, 9.1 -> 8.7 s. Elsewhere padding
        # is only more work (ONNX Runtime: 17.3 -> 19.1 s), so batches pad to the longest.
        self._pad_multiple = 16 if amx_available() else 1

    @property
    def _label(self) -> str:
        """How the model runs, for the log."""
        return self.precision

    @cached_property
    def _loaded(self) -> _Loaded:
        """The compiled model, its infer requests and free lanes: once per process and file.

        One stream of one thread per lane (:attr:`lanes`), each with its own infer request:
        batches run side by side, and share the cores in proportion with whatever else runs
        (2-core Xeon, the Node.js API pages, a Python thread busy beside them: 11-12 s
        against 22 s for one request on two threads; 8.2-8.9 s against 9.5-10.1 s alone).
        Kept for the life of the process, like llama.cpp models: an infer request freed by
        the garbage collector while the process goes on crashed it (in OpenVINO's
        ``~IAsyncInferRequest``, on a Xeon with AMX, after many embedders had come and gone
        in the test suite); the product builds one embedder per process anyway.
        """
        lanes = self.lanes
        key = (str(self.onnx_file), self.precision, lanes)
        with _LOADED_LOCK:
            loaded = _LOADED.get(key)
            if loaded is None:
                import openvino as ov

                core = ov.Core()
                model = core.read_model(key[0])

                def compiled_with(streams: int) -> Any:  # the lanes' threads, over streams
                    return core.compile_model(model, "CPU", {
                        "INFERENCE_PRECISION_HINT": self.precision,
                        "INFERENCE_NUM_THREADS": lanes, "NUM_STREAMS": streams})

                compiled = compiled_with(lanes)  # one thread per stream
                log.info("embedding with OpenVINO (%s) on %s, %d lane(s)", self._label,
                         core.get_property("CPU", "FULL_DEVICE_NAME"), lanes)
                inputs = [port.get_any_name() for port in model.inputs]
                requests = [compiled.create_infer_request() for _ in range(lanes)]
                free: queue.SimpleQueue[int] = queue.SimpleQueue()
                for lane, request in enumerate(requests):  # inputs and output, as _run_on
                    np.array(request.infer(warm_up_feed(inputs))[0])
                    free.put(lane)
                alone = None
                if lanes > 1:  # a call's only batch runs on every thread (_run_alone)
                    alone = compiled_with(1).create_infer_request()
                    np.array(alone.infer(warm_up_feed(inputs))[0])
                loaded = _LOADED[key] = _Loaded(compiled, requests, free, inputs, alone,
                                                threading.Lock())
        return loaded

    @property
    def _runtime(self) -> Any:
        """The compiled model (one per process and file)."""
        return self._loaded.compiled

    @property
    def _free_lanes(self) -> queue.SimpleQueue[int]:
        """Shared by the embedders of the same file, like the requests."""
        return self._loaded.free

    def _run_on(self, lane: int, feed: dict[str, np.ndarray]) -> np.ndarray:
        loaded = self._loaded
        result = loaded.requests[lane].infer({name: feed[name] for name in loaded.inputs})
        return np.array(result[0], dtype=np.float32)  # a copy: the request reuses its memory

    def _run_alone(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        loaded = self._loaded
        if loaded.alone is None:
            return self._run(feed)
        with loaded.alone_lock:
            result = loaded.alone.infer({name: feed[name] for name in loaded.inputs})
            return np.array(result[0], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class _Loaded:
    compiled: Any
    requests: list[Any]
    free: queue.SimpleQueue[int]
    inputs: list[str]
    alone: Any  # an infer request on every thread, for calls of one batch (None: one lane)
    alone_lock: threading.Lock


_LOADED: dict[tuple[str, str, int], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


#: Bump when the int8 recipe below (calibration texts, NNCF parameters) changes.
INT8_RECIPE = "nncf-int8-v1"
CALIBRATION_FILE = Path(__file__).with_name("calibration.jsonl")


def calibration_texts() -> list[str]:
    """The passages the int8 model's activation ranges are measured on.

    160 passages of Enclave's own documentation (prose, tables, commands, code), shipped in
    ``calibration.jsonl``: the same on every machine, so every machine makes the same model.
    """
    with open(CALIBRATION_FILE, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def vnni_available() -> bool:
    """True when the CPU multiplies int8 in hardware (AVX512-VNNI, AVX-VNNI or AMX-INT8)."""
    return bool(_cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


def amx_available() -> bool:
    """True when the CPU has AMX tile instructions (int8 or bf16)."""
    return bool(_cpu_flags() & {"amx_int8", "amx_bf16"})


class OpenVinoInt8Embedder(OpenVinoEmbedder):
    """The model quantized to int8, weights and activations, run by OpenVINO.

    ``embedding.backend: openvino-int8``. Made once per machine and model: the plain float32
    ONNX export (standard operators, not ONNX Runtime's fused ones) is read by OpenVINO and
    quantized by NNCF's post-training quantization for transformers (SmoothQuant, then
    per-channel int8 weights and int8 activations whose ranges are measured on
    :func:`calibration_texts`). Every matrix product then runs on int8 arithmetic, where ONNX
    Runtime's int8 model quantizes only the weights and the activations at run time.
    Measured on a 2-core EPYC with AVX512-VNNI (``bench/embedding_backends.py``, 800 zsh_faq
    passages): 1.52x the passages per second of ``onnx-int8`` and 1.62x OpenVINO bf16's,
    vectors at cosine 0.9976 to float32, 0.9926 at worst (onnx-int8: 0.9938, 0.9729). Cached
    like the other exports, as OpenVINO's own model files (``.xml`` + ``.bin``), so later
    processes load it without torch or NNCF.
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path) -> None:
        super().__init__(settings, cache_dir, precision="f32")

    @property
    def _label(self) -> str:
        return "int8, quantized by NNCF"

    @cached_property
    def onnx_file(self) -> Path:
        """The quantized model's ``.xml`` (made now if no cached copy exists)."""
        path = Path(self.model_path)
        out = self._cache_dir / f"{path.name}-ov-int8-{model_key(path, False, INT8_RECIPE)}.xml"
        return self._made_once(out, f"quantizing {path.name} to int8 for OpenVINO",
                               lambda dest: self._quantize_to(path, dest))

    def _quantize_to(self, path: Path, out: Path) -> None:
        import nncf
        import openvino as ov

        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            raw = Path(tmp) / "plain.onnx"
            export_onnx(path, raw, quantize=False, fuse=False)
            model = ov.Core().read_model(str(raw))
            names = [port.get_any_name() for port in model.inputs]
            texts = calibration_texts()
            # Padded to the longest of each 8 (transformers' padding), as the recipe was made.
            feeds = [self.tokenizer.batch(texts[i:i + 8], self.max_tokens)
                     for i in range(0, len(texts), 8)]
            quantized = nncf.quantize(
                model, nncf.Dataset(feeds, lambda feed: {n: feed[n] for n in names}),
                model_type=nncf.ModelType.TRANSFORMER, subset_size=len(feeds))
            xml = Path(tmp) / "model.xml"
            ov.save_model(quantized, str(xml), compress_to_fp16=False)
            # The .bin first: a present .xml means a complete pair.
            os.replace(xml.with_suffix(".bin"), out.with_suffix(".bin"))
            os.replace(xml, out)
