"""In-process GGUF models with llama.cpp (the embedded CPU default)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from config.settings import GenerationSettings
from generation.convert import RuntimeFile, cpu_features, runtime_file
from generation.models import LocalModel, Sha256Cache, describe
from generation.prompt import STOP_SEQUENCES
from generation.types import Message, ModelInfo

log = logging.getLogger(__name__)

_MODELS: dict[tuple[str, int, str | None], Any] = {}
_LOAD_LOCK = threading.Lock()


def use_extra_buffers(features: frozenset[str]) -> bool:
    """Whether llama.cpp may repack weights into its extra buffer types on this CPU.

    Not where it reports AMX: decoding with weights repacked for AMX crashed the process
    (segmentation fault in the first decode, Q4_1 weights, 2-core Xeon VM with AMX; the same
    crash as llama.cpp issue 20824). Without them it runs the plain CPU kernels.
    """
    return "AMX_INT8" not in features


@contextlib.contextmanager
def model_load_params(**fields: Any) -> Iterator[None]:
    """Model parameters ``Llama`` does not take as arguments, set while one is built.

    ``Llama`` reads llama.cpp's defaults from ``llama_model_default_params`` as it loads; that
    function returns them with ``fields`` set meanwhile. Callers hold ``_LOAD_LOCK``, the only
    place models are loaded.
    """
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params

    def defaults() -> Any:
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    low.llama_model_default_params = defaults
    try:
        yield
    finally:
        low.llama_model_default_params = original


class LlamaCppGenerator:
    """Streams chat completions from a GGUF model loaded once per process.

    The file's SHA-256 is checked against its preset's pin before it is loaded (computed
    once per file and cached in ``hashes``). Where the preset names a faster type to run as,
    its pinned local conversion in ``convert_dir`` is loaded instead
    (:func:`generation.convert.runtime_file`; None: the pinned file as it is).
    """

    def __init__(self, settings: GenerationSettings, model: LocalModel,
                 hashes: Sha256Cache, convert_dir: Path | None = None) -> None:
        self._settings = settings
        self._local = model
        self._hashes = hashes
        self._convert_dir = convert_dir
        self.loaded: RuntimeFile | None = None  # the file llama.cpp runs, once loaded
        self._llama: Any = None  # ...and its model: resolved and verified once, not per call
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time

    @property
    def model_name(self) -> str:
        """The GGUF file name."""
        return self._local.path.name

    def model_info(self, *, hash_now: bool = True) -> ModelInfo:
        """Preset, file, size, SHA-256 and licence of the model (``hash_now``: see describe)."""
        info = describe(self._local, self._hashes, self.model_name, hash_now=hash_now)
        loaded = self.loaded
        if loaded is not None and loaded.run_as is not None:
            info = replace(info, runs_as=f"{loaded.run_as.type}, converted locally by llama.cpp "
                           f"from the pinned file: {loaded.path} (SHA-256 {loaded.run_as.sha256})")
        return info

    def _model(self) -> Any:
        if self._llama is not None:  # every stream and token count after the first
            return self._llama
        local = self._local
        with _LOAD_LOCK:
            runtime = runtime_file(local, self._hashes, self._convert_dir)
            path = runtime.path
            key = (str(path.resolve()), local.n_ctx, local.chat_template)
            model = _MODELS.get(key)
            if model is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:  # pragma: no cover - install problem
                    raise RuntimeError("llama.cpp is missing: pip install llama-cpp-python") from exc
                extra = use_extra_buffers(cpu_features())
                if not extra:
                    log.info("llama.cpp reports AMX: weights are not repacked for it (that "
                             "crashed decoding); the plain CPU kernels run")
                with model_load_params(use_extra_bufts=extra):
                    model = Llama(
                        model_path=str(path),
                        n_ctx=local.n_ctx,
                        n_threads=self._settings.n_threads,
                        seed=self._settings.seed,
                        chat_format=local.chat_template,
                        verbose=False,
                    )
                _MODELS[key] = model
            self.loaded, self._llama = runtime, model
        return model

    def warm_up(self) -> None:
        """Load the model now instead of on first use."""
        self._model()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary."""
        return len(self._model().tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield answer text pieces (one request at a time per model).

        Closing the returned generator stops generation at once: llama.cpp produces tokens
        one at a time as they are read, so no token is computed after the close (and the
        model is free for the next request).
        """
        model = self._model()
        with self._lock:
            chunks = model.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=self._settings.seed,
                repeat_penalty=self._settings.repeat_penalty,
                stop=STOP_SEQUENCES,
                stream=True,
            )
            try:
                for chunk in chunks:
                    delta = chunk["choices"][0].get("delta", {})
                    text = delta.get("content")
                    if text:
                        yield text
            finally:
                chunks.close()  # ends llama.cpp's token loop (its generators) now
