"""Retrieval: dense (FAISS) and keyword (BM25) candidates, fused, hydrated from the catalog.

De-duplication, optional cross-encoder reranking, MMR and neighbour context follow.

The catalog is the source of truth: a FAISS id whose chunk is not committed in the catalog
(mid-replace, or deleted) is skipped, so a replaced document switches versions at the moment
its catalog transaction commits. Every hit carries its cosine similarity to the question
(``score``) whatever ranked it, so one relevance floor works for every mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import RetrievalSettings
from retrieval.catalog import Chunk, Collection, Document, get_collection
from retrieval.faiss_index import FaissIndexStore
from retrieval.fusion import min_max, mmr_order, reciprocal_rank_fusion
from retrieval.keyword_index import SqliteKeywordIndex
from retrieval.types import Embedder, Hit, Reranker


class UnknownCollectionError(LookupError):
    """The named collection does not exist."""


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Metadata filters; ``None`` fields do not filter. An empty tuple allows nothing."""

    document_ids: tuple[int, ...] | None = None
    document_names: tuple[str, ...] | None = None
    file_types: tuple[str, ...] | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return all(getattr(self, f) is None for f in self.__dataclass_fields__)


class Retriever:
    """Top-k passages of a collection for a question."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        index: FaissIndexStore,
        settings: RetrievalSettings | None = None,
        keyword: SqliteKeywordIndex | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self._sessions = session_factory
        self._embedder = embedder
        self._index = index
        self.settings = settings or RetrievalSettings()
        self._keyword = keyword or SqliteKeywordIndex()
        self._reranker = reranker

    @property
    def default_k(self) -> int:
        """Hits returned when no k is given."""
        return self.settings.top_k

    def search(
        self, query: str, collection: str, k: int | None = None,
        filters: SearchFilter | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` in ``collection``, best first."""
        return self.search_many([query], collection, k, filters)[0]

    def search_many(
        self, queries: Sequence[str], collection: str, k: int | None = None,
        filters: SearchFilter | None = None,
    ) -> list[list[Hit]]:
        """Batch form of :meth:`search`: one embedding batch, one list of hits per query."""
        k = k or self.settings.top_k
        with self._sessions() as session:
            coll = get_collection(session, collection)
            if coll is None:
                raise UnknownCollectionError(f"no collection named {collection!r}")
            if not queries:
                return []
            allowed = None
            if filters is not None and not filters.is_empty():
                allowed = self._allowed_chunk_ids(session, coll.id, filters)
            # Query vectors are needed in every mode: each hit reports its cosine similarity.
            vectors = self._embedder.embed_queries(list(queries))
            return [
                self._search_one(session, coll, q, vectors[i], k, allowed)
                for i, q in enumerate(queries)
            ]

    # -- one query -----------------------------------------------------------------------
    def _search_one(
        self, session: Session, coll: Collection, query: str, vector: np.ndarray, k: int,
        allowed: np.ndarray | None,
    ) -> list[Hit]:
        s = self.settings
        n = max(s.candidates, k)
        dense: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        if s.mode in ("dense", "hybrid"):
            if allowed is None:
                scores, ids = self._index.search(coll.id, vector, n + 8)
            else:
                scores, ids = self._index.search_filtered(coll.id, vector, n + 8, allowed)
            dense = [(int(i), float(sc)) for sc, i in zip(scores, ids, strict=True) if i >= 0]
        if s.mode in ("keyword", "hybrid"):
            keyword = self._keyword.search(session, coll.id, query, n * 2 if allowed is not None
                                           else n)
            if allowed is not None:
                allowed_set = set(allowed.tolist())
                keyword = [(c, sc) for c, sc in keyword if c in allowed_set][:n]

        if s.mode == "dense":
            ranked = dense
        elif s.mode == "keyword":
            ranked = keyword
        elif s.fusion == "rrf":
            ranked = reciprocal_rank_fusion(
                [[c for c, _ in dense], [c for c, _ in keyword]],
                weights=[s.dense_weight, 1 - s.dense_weight], k=s.rrf_k,
            )
        else:
            ranked = _weighted(dense, keyword, s.dense_weight)

        ids = [c for c, _ in ranked]
        rows = self._hydrate(session, ids)
        ranked = [(c, sc) for c, sc in ranked if c in rows]
        if not ranked:
            return []
        cand_ids = np.array([c for c, _ in ranked], dtype=np.int64)
        cand_vecs = self._index.vectors(coll.id, cand_ids)
        cosine = cand_vecs @ vector.astype(np.float32)
        keyword_scores = dict(keyword)
        hits = [
            _make_hit(rows[c], coll.name, float(cosine[i]), float(fused),
                      keyword_scores.get(c))
            for i, (c, fused) in enumerate(ranked)
        ]
        order = _dedup(cand_vecs, s.dedup_threshold)
        hits = [hits[i] for i in order]
        cand_vecs = cand_vecs[order]
        if self._reranker is not None and len(hits) > 1:
            top = hits[: s.rerank_candidates]
            scores = self._reranker.score(query, [h.text for h in top])
            reordered = sorted(range(len(top)), key=lambda i: -scores[i])
            hits = [replace(top[i], rerank_score=float(scores[i])) for i in reordered] + hits[
                len(top):
            ]
            cand_vecs = np.concatenate([cand_vecs[reordered], cand_vecs[len(top):]])
        if s.mmr_lambda is not None and len(hits) > 1:
            order = mmr_order(vector, cand_vecs, k, s.mmr_lambda)
            hits = [hits[i] for i in order]
        hits = hits[:k]
        if s.neighbours:
            hits = self._with_neighbours(session, hits, s.neighbours)
        return hits

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _allowed_chunk_ids(session: Session, collection_id: int, f: SearchFilter) -> np.ndarray:
        stmt = (
            select(Chunk.id)
            .join(Document, Chunk.document_id == Document.id)
            .where(Document.collection_id == collection_id, Document.status == "ready")
        )
        if f.document_ids is not None:
            stmt = stmt.where(Document.id.in_(f.document_ids))
        if f.document_names is not None:
            stmt = stmt.where(Document.name.in_(f.document_names))
        if f.file_types is not None:
            stmt = stmt.where(Document.file_type.in_(f.file_types))
        if f.updated_after is not None:
            stmt = stmt.where(Document.updated_at >= f.updated_after)
        if f.updated_before is not None:
            stmt = stmt.where(Document.updated_at < f.updated_before)
        return np.array(session.scalars(stmt).all(), dtype=np.int64)

    @staticmethod
    def _hydrate(session: Session, ids: list[int]) -> dict[int, tuple[Chunk, Document]]:
        if not ids:
            return {}
        rows = session.execute(
            select(Chunk, Document)
            .join(Document, Chunk.document_id == Document.id)
            .where(Chunk.id.in_(ids), Document.status == "ready")
        ).all()
        return {chunk.id: (chunk, doc) for chunk, doc in rows}

    @staticmethod
    def _with_neighbours(session: Session, hits: list[Hit], n: int) -> list[Hit]:
        out = []
        for hit in hits:
            ordinal = session.scalar(select(Chunk.ordinal).where(Chunk.id == hit.chunk_id))
            if ordinal is None:
                out.append(hit)
                continue
            rows = session.scalars(
                select(Chunk)
                .where(Chunk.document_id == hit.document_id,
                       Chunk.ordinal.between(ordinal - n, ordinal + n))
                .order_by(Chunk.ordinal)
            ).all()
            before = "\n\n".join(c.text for c in rows if c.ordinal < ordinal)
            after = "\n\n".join(c.text for c in rows if c.ordinal > ordinal)
            out.append(replace(hit, context_before=before, context_after=after))
        return out


def _make_hit(
    row: tuple[Chunk, Document], collection: str, cosine: float, fused: float,
    keyword_score: float | None,
) -> Hit:
    chunk, doc = row
    return Hit(
        chunk_id=chunk.id, document_id=doc.id, document=doc.name, collection=collection,
        page=chunk.page, heading_path=chunk.heading_path, text=chunk.text, score=cosine,
        char_start=chunk.char_start, char_end=chunk.char_end, document_version=doc.version,
        fused_score=fused, keyword_score=keyword_score,
    )


def _weighted(
    dense: list[tuple[int, float]], keyword: list[tuple[int, float]], dense_weight: float
) -> list[tuple[int, float]]:
    d = dict(zip([c for c, _ in dense], min_max([s for _, s in dense]), strict=True))
    kw = dict(zip([c for c, _ in keyword], min_max([s for _, s in keyword]), strict=True))
    combined = {
        c: dense_weight * d.get(c, 0.0) + (1 - dense_weight) * kw.get(c, 0.0)
        for c in d.keys() | kw.keys()
    }
    return sorted(combined.items(), key=lambda x: (-x[1], x[0]))


def _dedup(vectors: np.ndarray, threshold: float) -> list[int]:
    """Indexes to keep: each row unless it is near-identical to an earlier kept row."""
    if threshold >= 1 or len(vectors) < 2:
        return list(range(len(vectors)))
    keep: list[int] = []
    for i in range(len(vectors)):
        if keep and float(np.max(vectors[keep] @ vectors[i])) >= threshold:
            continue
        keep.append(i)
    return keep
