"""Dataclasses and Protocols at retrieval's boundaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved passage."""

    chunk_id: int
    document_id: int
    document: str
    collection: str
    page: int | None
    heading_path: str
    text: str
    score: float
    char_start: int
    char_end: int
    document_version: int = 1
    fused_score: float | None = None
    keyword_score: float | None = None
    rerank_score: float | None = None
    context_before: str = ""
    context_after: str = ""
    # Where the matched chunk lies in ``text`` when the passage was grown around it
    # (small-to-big, ``retrieval.passage_max_chars``); None: ``text`` is the chunk itself.
    match_start: int | None = None
    match_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Embedder(Protocol):
    """Turns text into unit-length float32 vectors."""

    @property
    def dimension(self) -> int:
        """Vector size."""
        ...

    @property
    def max_tokens(self) -> int:
        """Largest input (in model tokens, special tokens included) embedded without truncation."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` occupies in the model's window, special tokens included."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One query -> vector of shape (dimension,)."""
        ...

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Queries -> matrix of shape (len(texts), dimension)."""
        ...

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Passages -> matrix of shape (len(texts), dimension)."""
        ...


class Reranker(Protocol):
    """Re-scores candidate passages for a query (higher is more relevant)."""

    def score(self, query: str, passages: list[str]) -> list[float]:
        """One score per passage."""
        ...


class VectorIndex(Protocol):
    """Per-collection vector store keyed by catalog chunk id."""

    def add(self, collection_id: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given chunk ids."""
        ...

    def remove(self, collection_id: int, ids: np.ndarray) -> int:
        """Remove chunk ids; returns how many were removed."""
        ...

    def search(
        self, collection_id: int, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, ids)`` for one query vector; ids are -1 past the end."""
        ...

    def ids(self, collection_id: int) -> np.ndarray:
        """All chunk ids stored for a collection."""
        ...

    def save(self, collection_id: int) -> None:
        """Persist a collection's index atomically."""
        ...
