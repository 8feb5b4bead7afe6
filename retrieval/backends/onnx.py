"""The same sentence-transformers model run by ONNX Runtime: exported locally, once.

The first use exports the local model directory (never a download) to ONNX with its pooling
and normalisation inside the graph, fuses the transformer's operators with ONNX Runtime's
optimizer and, for ``onnx-int8``, quantizes the weights to int8 per channel (dynamic
quantization: activations stay float). The result is cached under
``<data_dir>/models/<key>.onnx`` (key: the weights' hash, the export recipe's version and
the variant), written atomically under a file lock, so every later process just loads it —
without importing torch. On these CPUs int8 embeds about 2.5x faster than PyTorch with
vectors at cosine ~0.99 to PyTorch's (bench/ingest_speed.py measures both).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import tempfile
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from config.settings import EmbeddingSettings
from retrieval.backends.sentence_transformers import (
    PrefixedEmbedder,
    bundled_embedding_model_path,
)
from retrieval.backends.tokens import ModelTokenizer, save_tokenizer, tokenizer_file

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export recipe below changes: caches are re-made
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def warm_up_feed(inputs: list[str]) -> dict[str, np.ndarray]:
    """A two-token batch, run once per loaded model (and OpenVINO request) before lanes share it.

    The first run initialises the runtime's Python bindings (pybind11's function-local
    statics): two lanes making their first runs at once deadlocked OpenVINO's bindings, one
    thread in the static's guard waiting for the GIL the other held.
    """
    return {name: np.ones((1, 2), dtype=np.int64) if name == "attention_mask"
            else np.zeros((1, 2), dtype=np.int64) for name in inputs}


@dataclass(frozen=True, slots=True)
class _ModelInfo:
    """What the export needs to know about a sentence-transformers directory."""

    max_seq_length: int
    pooling: str  # "mean" | "cls"
    model_type: str
    num_heads: int
    hidden_size: int


def _model_info(path: Path) -> _ModelInfo:
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    st_config = path / "sentence_bert_config.json"
    max_len = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length") \
        if st_config.exists() else None
    pooling = "mean"
    modules = path / "modules.json"
    if modules.exists():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if module.get("type", "").endswith("Pooling"):
                cfg = json.loads((path / module["path"] / "config.json").read_text("utf-8"))
                if cfg.get("pooling_mode_cls_token"):
                    pooling = "cls"
                elif not cfg.get("pooling_mode_mean_tokens", True):
                    raise RuntimeError(f"{path}: only mean or CLS pooling can be exported to ONNX "
                                       "(set embedding.backend: sentence-transformers)")
    return _ModelInfo(
        max_seq_length=int(max_len or config.get("max_position_embeddings", 512)),
        pooling=pooling,
        model_type=str(config.get("model_type", "bert")),
        num_heads=int(config.get("num_attention_heads", 12)),
        hidden_size=int(config.get("hidden_size", 384)),
    )


def model_key(path: Path, quantize: bool, variant: str | None = None) -> str:
    """Cache key of one export: the weights and configs, the recipe version, the variant.

    ``variant`` names another recipe built on the export (its own version inside it).
    """
    seed = f"v{EXPORT_VERSION}:int8={quantize}" + (f":{variant}" if variant else "")
    digest = hashlib.sha256(seed.encode())
    for name in (*_WEIGHT_FILES, "config.json", "modules.json", "sentence_bert_config.json"):
        file = path / name
        if file.exists():
            with open(file, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def export_onnx(model_path: Path, out: Path, quantize: bool, fuse: bool = True) -> None:
    """Export ``model_path`` (pooling + L2 normalisation included) to ``out``; needs torch.

    ``fuse``: ONNX Runtime's transformer fusions (its own operators, which only ONNX Runtime
    runs); without, the plain export in standard ONNX operators.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    info = _model_info(model_path)
    # Eager attention exports as plain ops that ONNX Runtime fuses into its Attention kernel.
    st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True,
                             model_kwargs={"attn_implementation": "eager"})
    transformer = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            if info.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = st.tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    if "token_type_ids" not in sample:
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(), tuple(sample[n] for n in names), str(raw), input_names=names,
                output_names=["embedding"], opset_version=17, dynamo=False,
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                              "embedding": {0: "batch"}},
            )
        fused = raw
        if fuse:
            try:
                from onnxruntime.transformers import optimizer

                model = optimizer.optimize_model(str(raw), model_type="bert",
                                                 num_heads=info.num_heads,
                                                 hidden_size=info.hidden_size, opt_level=1)
                fused = Path(tmp) / "fused.onnx"
                model.save_model_to_file(str(fused))
            except Exception as exc:  # noqa: BLE001 - an unfused graph is slower, not wrong
                log.warning("ONNX operator fusion failed (%s); using the plain export", exc)
                fused = raw
        final = Path(tmp) / "final.onnx"
        if quantize:
            from onnx import TensorProto
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fused), str(final), weight_type=QuantType.QInt8,
                             per_channel=True,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})
        else:
            final = fused
        with open(final, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(final, out)


class OnnxEmbedder(PrefixedEmbedder):
    """Embedder with the :class:`~retrieval.types.Embedder` contract on ONNX Runtime (CPU).

    Construction is cheap; the export (first time only) and the session load on first use.
    """

    def __init__(self, settings: EmbeddingSettings, cache_dir: Path, quantize: bool) -> None:
        self._settings = settings
        self.model_path = settings.model_path or bundled_embedding_model_path()
        self._cache_dir = cache_dir
        self._quantize = quantize
        self._pad_multiple = 1  # ONNX Runtime: padding is work (OpenVINO differs)

    @property
    def lanes(self) -> int:
        """How many batches run at once, each on one CPU thread (``embedding.threads``).

        One batch on all cores ran 2.4x slower while a Python thread kept one core busy (the
        model's threads wait for each other at every operator, and one of them waits for
        the core): ingest parses beside embedding. Batches on single-threaded lanes share the
        cores in proportion instead, and alone are as fast (``docs/architecture.md``).
        """
        return self._settings.threads or (os.cpu_count() or 1)

    @cached_property
    def _free_lanes(self) -> queue.SimpleQueue[int]:
        """Lanes not running a batch now (a run takes one and gives it back)."""
        free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for lane in range(self.lanes):
            free.put(lane)
        return free

    @cached_property
    def _info(self) -> _ModelInfo:
        path = Path(self.model_path)
        if not path.is_dir():
            raise RuntimeError(f"embedding model directory not found: {path}")
        return _model_info(path)

    @cached_property
    def tokenizer(self) -> ModelTokenizer:
        """The model's tokenizer, for embedding, counting and splitting (chunker).

        Read from the model cache without importing transformers
        (:mod:`retrieval.backends.tokens`).
        """
        out = self._made_once(tokenizer_file(self.model_path, self._cache_dir),
                              f"saving the tokenizer of {self.name}",
                              lambda dest: save_tokenizer(self.model_path, dest))
        return ModelTokenizer.from_json(out.read_text(encoding="utf-8"))

    @cached_property
    def onnx_file(self) -> Path:
        """The exported model (exported now if no cached copy exists)."""
        path = Path(self.model_path)
        variant = "int8" if self._quantize else "fp32"
        out = self._cache_dir / f"{path.name}-{variant}-{model_key(path, self._quantize)}.onnx"
        return self._made_once(out, f"exporting {path.name} to ONNX ({variant})",
                               lambda dest: export_onnx(path, dest, self._quantize))

    def _made_once(self, out: Path, what: str, make: Callable[[Path], None]) -> Path:
        """``out`` from the model cache, made by ``make(out)`` first if it is not there.

        Under a file lock, so concurrent processes make it once and the others wait for it;
        ``make`` writes ``out`` atomically (a present file is a complete one).
        """
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(out) + ".lock"):
            if not out.exists():
                log.info("%s, once", what)
                make(out)
        return out

    @cached_property
    def _runtime(self) -> Any:
        """The loaded model (an ONNX Runtime session here) for the lanes."""
        return self._session(threads=1)  # one thread per run; runs go side by side

    @cached_property
    def _inputs(self) -> list[str]:
        """The model's input names (the sessions share them)."""
        return [i.name for i in self._runtime.get_inputs()]

    def _session(self, threads: int) -> Any:
        """A new session of the model on ``threads`` threads, run once (see warm_up_feed)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # ONNX Runtime's pool threads spin after each call, taking the cores FAISS's OpenMP
        # threads search on next: embed + search 15 -> 8 ms median at a million chunks on 2
        # cores (bench/scale.py) once spinning was off.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(self.onnx_file), options,
                                       providers=["CPUExecutionProvider"])
        session.run(None, warm_up_feed([i.name for i in session.get_inputs()]))
        return session

    def warm_up(self) -> None:
        """Export (first time) and load the model now instead of on first use."""
        _ = self._runtime, self.tokenizer

    @property
    def name(self) -> str:
        """Short model name for records and logs."""
        return Path(self.model_path).name

    @property
    def dimension(self) -> int:
        """Vector size."""
        return self._info.hidden_size

    @property
    def max_tokens(self) -> int:
        """The model's input window, special tokens included."""
        return self._info.max_seq_length

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """One batch through the model: token arrays -> unit vectors (on a free lane)."""
        free = self._free_lanes
        lane = free.get()  # waits while every lane runs a batch
        try:
            return self._run_on(lane, feed)
        finally:
            free.put(lane)

    def _run_on(self, lane: int, feed: dict[str, np.ndarray]) -> np.ndarray:
        """One batch on ``lane``: an ONNX Runtime session runs concurrent calls itself."""
        session = self._runtime
        return session.run(None, {name: feed[name] for name in self._inputs})[0]

    @cached_property
    def _alone(self) -> tuple[Any, threading.Lock]:
        """A second session on every thread, for calls of one batch, and its lock."""
        return self._session(threads=self.lanes), threading.Lock()

    def _run_alone(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """A call's only batch (a question, an answer's sentences) on every thread.

        On one lane a question's search took ~3 ms longer at p95 (debian_faq test half);
        bulk calls (ingest) have batches enough for every lane.
        """
        if self.lanes == 1:
            return self._run(feed)
        session, lock = self._alone
        with lock:
            return session.run(None, {name: feed[name] for name in self._inputs})[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # Tokenized once; batches of similar token counts, so little of a batch is padding
        # (ordered by characters, code and prose mixed: 29% of the tokens run were padding on
        # the Node.js API pages, and embedding took 1.3-1.5x as long).
        encodings = self.tokenizer.encode(texts, self.max_tokens)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        size = self._settings.batch_size
        batches = iter([order[start:start + size] for start in range(0, len(order), size)])
        taking = threading.Lock()
        failed = threading.Event()

        def work() -> None:  # the longest batches first, each to the next free worker
            while not failed.is_set():
                with taking:
                    idx = next(batches, None)
                if idx is None:
                    return
                try:
                    out[idx] = self._run(self.tokenizer.pad([encodings[i] for i in idx],
                                                            self._pad_multiple))
                except BaseException:
                    failed.set()
                    raise

        if len(order) <= size:  # one batch: every thread on it
            out[order] = self._run_alone(self.tokenizer.pad([encodings[i] for i in order],
                                                            self._pad_multiple))
            return out
        helpers = min(self.lanes, -(-len(order) // size)) - 1
        if helpers <= 0:
            work()
            return out
        _ = self._runtime, self._free_lanes  # loaded once, before the helpers ask
        with ThreadPoolExecutor(helpers, thread_name_prefix="embed") as pool:
            futures = [pool.submit(work) for _ in range(helpers)]
            try:
                work()
            finally:
                wait(futures)
            for future in futures:
                future.result()  # a helper's error is raised here
        return out
