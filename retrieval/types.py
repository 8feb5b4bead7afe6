"""Dataclasses and Protocols at retrieval's boundaries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Collection as AbstractCollection
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy.orm import Session


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


class ChunkSet:
    """An immutable set of chunk ids held as a packed bitmap (bit ``i`` set: chunk ``i`` is in).

    What a principal may read, as the vector index's filter (FAISS ``IDSelectorBitmap``) and
    as the membership test the retriever applies to every hit: 125 KB per million ids, one
    bit test per lookup, however many ids are in the set.
    """

    __slots__ = ("_bits", "_size")

    def __init__(self, bits: np.ndarray, size: int) -> None:
        """``bits``: uint8 bitmap in little bit order; ``size``: the number of bits set."""
        bits = np.ascontiguousarray(bits, dtype=np.uint8)
        bits.setflags(write=False)
        self._bits = bits
        self._size = int(size)

    @classmethod
    def of(cls, ids: np.ndarray | AbstractCollection[int]) -> ChunkSet:
        """The set of ``ids`` (non-negative integers)."""
        arr = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids,
                                   dtype=np.int64))
        if len(arr) and arr[0] < 0:
            raise ValueError("chunk ids are non-negative")
        mask = np.zeros(int(arr[-1]) + 1 if len(arr) else 0, dtype=bool)
        mask[arr] = True
        return cls(np.packbits(mask, bitorder="little"), len(arr))

    @property
    def bitmap(self) -> np.ndarray:
        """The read-only bitmap (uint8, little bit order, ``len(bitmap) * 8`` ids covered)."""
        return self._bits

    def __len__(self) -> int:
        return self._size

    def __contains__(self, chunk_id: object) -> bool:
        if not isinstance(chunk_id, int | np.integer):
            return False
        i = int(chunk_id)
        return 0 <= i >> 3 < len(self._bits) and bool(self._bits[i >> 3] >> (i & 7) & 1)

    def ids(self) -> np.ndarray:
        """The ids, ascending."""
        return np.flatnonzero(np.unpackbits(self._bits, bitorder="little")).astype(np.int64)


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


@runtime_checkable
class VectorIndex(Protocol):
    """Per-collection vector store keyed by catalog chunk id (FAISS: ``backends/faiss.py``).

    Vectors are unit length; scores are inner products (cosine). Changes are visible to
    searches at once and durable after :meth:`save`.
    """

    def add(self, collection_id: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given chunk ids."""
        ...

    def remove(self, collection_id: int, ids: np.ndarray) -> int:
        """Remove chunk ids; returns how many were removed."""
        ...

    def search(
        self, collection_id: int, query: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, ids)`` for one query vector, best first."""
        ...

    def search_filtered(
        self, collection_id: int, query: np.ndarray, k: int, allowed: ChunkSet | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k among the ``allowed`` chunk ids only (filtered inside the index)."""
        ...

    def vectors(self, collection_id: int, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of ``ids`` (zero rows for ids not stored)."""
        ...

    def ids(self, collection_id: int) -> np.ndarray:
        """All chunk ids stored for a collection."""
        ...

    def count(self, collection_id: int) -> int:
        """Number of vectors stored for a collection."""
        ...

    def structure(self, collection_id: int) -> str:
        """The index structure of a collection (``Flat``, ``IVF4096,SQ8``, ...)."""
        ...

    def rebuild(self, collection_id: int, factory: str, *, train_size: int = 100_000,
                progress: Callable[[str], None] | None = None) -> str:
        """Rebuild a collection's index as ``factory`` from its vectors; saved atomically."""
        ...

    def save(self, collection_id: int) -> None:
        """Persist a collection's index atomically."""
        ...

    def reload(self, collection_id: int) -> None:
        """Forget the in-memory copy; the next use reads what was saved."""
        ...

    def drop(self, collection_id: int) -> None:
        """Delete a collection's index."""
        ...


@dataclass(frozen=True, slots=True)
class KeywordRanking:
    """How the keyword leg ranks one search: the ``retrieval.keyword_*`` settings.

    Passed with every search, so the settings the retriever holds are the only copy (a
    variant that changes them changes the keyword leg too). The defaults are the settings'.
    """

    #: Weight of a chunk's heading path beside its text (retrieval.keyword_heading_weight).
    heading_weight: float = 0.1
    #: Match the question's identifiers as phrases as well (retrieval.keyword_phrases).
    phrases: bool = True
    #: Posting budget of one match (retrieval.keyword_max_postings).
    max_postings: int = 20_000

    @classmethod
    def of(cls, settings: Any) -> KeywordRanking:
        """The ranking that ``settings`` (a ``RetrievalSettings``) asks for."""
        return cls(settings.keyword_heading_weight, settings.keyword_phrases,
                   settings.keyword_max_postings)


@runtime_checkable
class KeywordIndex(Protocol):
    """Keyword (BM25-like) search over the catalog's chunks (SQLite FTS5: ``backends/sqlite_fts.py``).

    The index follows the catalog inside the same transaction (no separate add/remove calls):
    a chunk committed to the catalog is searchable, a deleted one is not.
    """

    def search(
        self, session: Session, collection_id: int, question: str, k: int,
        allowed_document_ids: AbstractCollection[int] | None = None,
        ranking: KeywordRanking = KeywordRanking(),
    ) -> list[tuple[int, float]]:
        """``(chunk_id, score)`` best first (higher is better), ready documents only.

        ``allowed_document_ids`` (when not None) restricts the match to those documents; an
        empty collection of ids matches nothing. ``ranking`` holds the settings that shape
        the match and its scores.
        """
        ...

    def term_counts(self, session: Session, stems: list[str],
                    words: Mapping[str, Sequence[str]] | None = None
                    ) -> tuple[dict[str, int], int]:
        """``({stem: passages containing it}, passages in the index)`` over every collection.

        ``stems`` are Porter stems (:func:`retrieval.evidence.stems`); ``words``, when given,
        the question's words behind each stem, for an index that stems differently to look
        up as it parses them.
        """
        ...
