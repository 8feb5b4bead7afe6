"""Retrieval: dense (FAISS) and keyword (BM25) candidates, fused, hydrated from the catalog.

De-duplication, optional cross-encoder reranking and MMR follow; the matched chunks are then
grown into passages with neighbour context (:mod:`retrieval.passages`).

The catalog is the source of truth: a FAISS id whose chunk is not committed in the catalog
(mid-replace, or deleted) is skipped, so a replaced document switches versions at the moment
its catalog transaction commits. Every hit carries its cosine similarity to the question
(``score``) whatever ranked it, so one relevance floor works for every mode.

Access control: given a :class:`~retrieval.acl.Principal`, the documents it may read are
resolved before anything is searched (cached per catalog access version:
:mod:`retrieval.scope`) and applied inside FAISS (bitmap ID selector over their chunk ids),
inside the keyword SQL (``d.id IN ...``) and again when hits are hydrated. No readable
document means no hits, never "all hits". Without a principal (trusted internal callers such
as the CLI) nothing is access-filtered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import RetrievalSettings
from db.engine import read_snapshot
from db.models import Chunk, Collection, Document
from retrieval.acl import Principal
from retrieval.catalog import get_collection
from retrieval.evidence import Evidence, judge
from retrieval.fusion import min_max, mmr_order, reciprocal_rank_fusion
from retrieval.passages import grow_passages, hydrate, make_hit
from retrieval.scope import AccessCache, Scope
from retrieval.types import (
    ChunkSet,
    Embedder,
    Hit,
    KeywordIndex,
    KeywordRanking,
    Reranker,
    VectorIndex,
)

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class _Part:
    """One collection of a search: what may be searched in it (None: everything)."""

    coll: Collection
    allowed: ChunkSet | np.ndarray | None = None
    scope: Scope | None = None  # a principal's readable documents (None: not access-filtered)

    def permits(self, chunk_id: int, doc: Document) -> bool:
        """Whether a hydrated candidate may be returned (checked on every hit)."""
        if self.scope is not None:
            return self.scope.permits(chunk_id, doc)
        return doc.collection_id == self.coll.id


class Retriever:
    """Top-k passages of one or several collections for a question."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        index: VectorIndex,
        settings: RetrievalSettings | None = None,
        keyword: KeywordIndex | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self._sessions = session_factory
        self._embedder = embedder
        self._index = index
        self.settings = settings or RetrievalSettings()
        self._keyword = keyword
        if keyword is None and self.settings.mode != "dense":
            log.warning("retrieval.mode is %r but this database has no keyword index: "
                        "searching with the dense leg only", self.settings.mode)
        self._reranker = reranker
        self._access = AccessCache()

    @property
    def default_k(self) -> int:
        """Hits returned when no k is given."""
        return self.settings.top_k

    def search(
        self, query: str, collection: str | Sequence[str], k: int | None = None,
        filters: SearchFilter | None = None, *, principal: Principal | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` in ``collection``, best first.

        ``collection`` is one name or several: several are searched as one (their candidates
        ranked together, see :meth:`search_many`). With a ``principal`` only passages of
        documents it may read are searched and returned.
        """
        return self.search_many([query], collection, k, filters, principal=principal)[0]

    def assess(self, question: str, hits: list[Hit]) -> Evidence:
        """Whether ``hits`` (retrieved for ``question``) answer it: :mod:`retrieval.evidence`."""
        with self._sessions() as session:
            return judge(question, hits,
                         lambda terms: (self._keyword.term_counts(session, list(terms), terms)
                                        if self._keyword is not None else ({}, 0)),
                         self.settings.abstention, self.settings.min_score)

    def search_many(
        self, queries: Sequence[str], collection: str | Sequence[str], k: int | None = None,
        filters: SearchFilter | None = None, *, principal: Principal | None = None,
    ) -> list[list[Hit]]:
        """Batch form of :meth:`search`: one embedding batch, one list of hits per query.

        Several collections are searched as if they were one: each leg's candidates of every
        collection are ranked together (cosine similarities share one embedding space, BM25
        scores one keyword index) before fusion, so the best passages win whichever
        collection holds them. Access is resolved per collection, as for one.
        """
        k = k or self.settings.top_k
        names = [collection] if isinstance(collection, str) else list(dict.fromkeys(collection))
        with self._sessions() as session:
            read_snapshot(session)  # keyword, hydration and ACL reads agree with each other
            colls = []
            for name in names:
                coll = get_collection(session, name)
                if coll is None:
                    raise UnknownCollectionError(f"no collection named {name!r}")
                colls.append(coll)
            if not queries:
                return []
            parts = [p for p in (self._part(session, c, filters, principal) for c in colls)
                     if p is not None]
            if not parts:  # nothing readable (or no collection): fails closed
                return [[] for _ in queries]
            # Query vectors are needed in every mode: each hit reports its cosine similarity.
            vectors = self._embedder.embed_queries(list(queries))
            return [self._search_one(session, parts, q, vectors[i], k)
                    for i, q in enumerate(queries)]

    def _part(self, session: Session, coll: Collection, filters: SearchFilter | None,
              principal: Principal | None) -> _Part | None:
        """What may be searched of one collection; None when nothing of it is readable."""
        if principal is not None:
            # Access first, before anything is searched; an empty result fails closed.
            narrow = (self._filtered_document_ids(session, coll.id, filters)
                      if filters is not None and not filters.is_empty() else None)
            scope = self._access.scope(session, coll, principal, self._index.count(coll.id),
                                       narrow)
            return None if scope is None else _Part(coll, scope.chunks, scope)
        if filters is not None and not filters.is_empty():
            return _Part(coll, self._allowed_chunk_ids(session, coll.id, filters))
        return _Part(coll)

    def _keyword_leg(self, session: Session, collection_id: int, query: str, n: int,
                     allowed: ChunkSet | np.ndarray | None, scope: Scope | None
                     ) -> list[tuple[int, float]]:
        """Keyword candidates ``(chunk id, score)``, best first, restricted like the dense leg."""
        assert self._keyword is not None
        ranking = KeywordRanking.of(self.settings)
        if scope is not None:
            # Restricted inside the SQL, then checked chunk by chunk (defence in depth).
            keyword = self._keyword.search(
                session, collection_id, query, n,
                allowed_document_ids=None if scope.everything else scope.documents,
                ranking=ranking)
            return [(c, sc) for c, sc in keyword if c in scope.chunks]
        keyword = self._keyword.search(session, collection_id, query,
                                       n * 2 if allowed is not None else n, ranking=ranking)
        if allowed is not None:
            allowed_set = set(np.asarray(allowed).tolist())
            keyword = [(c, sc) for c, sc in keyword if c in allowed_set][:n]
        return keyword

    # -- one query -----------------------------------------------------------------------
    def _search_one(
        self, session: Session, parts: list[_Part], query: str, vector: np.ndarray, k: int,
    ) -> list[Hit]:
        s = self.settings
        mode = s.mode if self._keyword is not None else "dense"
        n = max(s.candidates, k)
        dense: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        owner: dict[int, _Part] = {}  # chunk id -> the collection searched that found it
        for part in parts:
            coll, allowed = part.coll, part.allowed
            if mode in ("dense", "hybrid"):
                if allowed is None:
                    scores, ids = self._index.search(coll.id, vector, n + 8)
                else:
                    scores, ids = self._index.search_filtered(coll.id, vector, n + 8, allowed)
                found = [(int(i), float(sc)) for sc, i in zip(scores, ids, strict=True) if i >= 0]
                dense += found
                owner.update((c, part) for c, _ in found)
            if self._keyword is not None and mode in ("keyword", "hybrid"):
                found = self._keyword_leg(session, coll.id, query, n, allowed, part.scope)
                keyword += found
                owner.update((c, part) for c, _ in found)
        if len(parts) > 1:  # one ranking per leg across the collections, as for one
            dense = sorted(dense, key=lambda x: -x[1])[: n + 8]
            keyword = sorted(keyword, key=lambda x: -x[1])[:n]

        # Hydrate every candidate of both legs once (fusion returns their union anyway).
        rows = hydrate(session, list(dict.fromkeys([c for c, _ in dense] +
                                                   [c for c, _ in keyword])))
        if s.short_chunk_penalty and dense:
            dense = sorted(((c, sc * _length_prior(rows[c][0].token_count, s) if c in rows
                             else sc) for c, sc in dense), key=lambda x: -x[1])
        if mode == "dense":
            ranked = dense
        elif mode == "keyword":
            ranked = keyword
        elif s.fusion == "rrf":
            ranked = reciprocal_rank_fusion(
                [[c for c, _ in dense], [c for c, _ in keyword]],
                weights=[s.dense_weight, 1 - s.dense_weight], k=s.rrf_k,
            )
        else:
            ranked = _weighted(dense, keyword, s.dense_weight)

        rows = {c: row for c, row in rows.items() if c in owner and owner[c].permits(c, row[1])}
        ranked = [(c, sc) for c, sc in ranked if c in rows]
        if not ranked:
            return []
        cand_ids = np.array([c for c, _ in ranked], dtype=np.int64)
        cand_vecs = self._candidate_vectors(parts, owner, cand_ids)
        cosine = cand_vecs @ vector.astype(np.float32)
        keyword_scores = dict(keyword)
        hits = [
            make_hit(rows[c], owner[c].coll.name, float(cosine[i]), float(fused),
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
        if s.passage_max_chars or s.neighbours:
            ordinals = {c: rows[c][0].ordinal for c, _ in ranked}
            return grow_passages(session, hits, ordinals, k, s.passage_max_chars, s.neighbours,
                                 s.passage_scope)
        return hits[:k]

    # -- helpers -------------------------------------------------------------------------
    def _candidate_vectors(self, parts: list[_Part], owner: dict[int, _Part],
                           ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` (in order), each read from its collection's index."""
        if len(parts) == 1:
            return self._index.vectors(parts[0].coll.id, ids)
        out: np.ndarray | None = None
        for part in parts:
            rows = [i for i, c in enumerate(ids.tolist()) if owner[c] is part]
            if not rows:
                continue
            vecs = self._index.vectors(part.coll.id, ids[rows])
            if out is None:
                out = np.zeros((len(ids), vecs.shape[1]), dtype=vecs.dtype)
            out[rows] = vecs
        assert out is not None
        return out

    @staticmethod
    def _allowed_chunk_ids(session: Session, collection_id: int, f: SearchFilter) -> np.ndarray:
        stmt = (
            select(Chunk.id)
            .join(Document, Chunk.document_id == Document.id)
            .where(Document.collection_id == collection_id, Document.status == "ready")
        )
        return np.array(session.scalars(_apply_filter(stmt, f)).all(), dtype=np.int64)

    @staticmethod
    def _filtered_document_ids(session: Session, collection_id: int, f: SearchFilter) -> set[int]:
        stmt = select(Document.id).where(
            Document.collection_id == collection_id, Document.status == "ready"
        )
        return set(session.scalars(_apply_filter(stmt, f)))


def _apply_filter(stmt: Select[tuple[int]], f: SearchFilter) -> Select[tuple[int]]:
    """``stmt`` (joined with ``Document``) narrowed by the filter's document fields."""
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
    return stmt


def _length_prior(tokens: int, s: RetrievalSettings) -> float:
    """Multiplier of a chunk's dense score: below 1 for chunks under short_chunk_tokens."""
    shortfall = max(0.0, 1.0 - tokens / s.short_chunk_tokens)
    return 1.0 - s.short_chunk_penalty * shortfall


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
    kept = np.empty_like(vectors)  # the kept rows, packed: compared as a view, not a copy
    keep: list[int] = []
    for i, row in enumerate(vectors):
        if keep and float((kept[:len(keep)] @ row).max()) >= threshold:
            continue
        kept[len(keep)] = row
        keep.append(i)
    return keep
