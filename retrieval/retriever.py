"""Dense retrieval: embed the query, search the collection's FAISS index, hydrate from SQL.

The catalog is the source of truth: a FAISS id whose chunk is not committed in the catalog
(mid-replace, or deleted) is skipped, so a replaced document switches versions at the moment
its catalog transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retrieval.catalog import Chunk, Collection, Document, get_collection
from retrieval.types import Embedder, Hit, VectorIndex


class UnknownCollectionError(LookupError):
    """The named collection does not exist."""


class Retriever:
    """Top-k passages of a collection for a question."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        index: VectorIndex,
        default_k: int = 5,
    ) -> None:
        self._sessions = session_factory
        self._embedder = embedder
        self._index = index
        self.default_k = default_k

    def search(self, query: str, collection: str, k: int | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query`` in ``collection``, best first."""
        return self.search_many([query], collection, k)[0]

    def search_many(
        self, queries: Sequence[str], collection: str, k: int | None = None
    ) -> list[list[Hit]]:
        """Batch form of :meth:`search`: one embedding batch, one list of hits per query."""
        k = k or self.default_k
        with self._sessions() as session:
            coll = get_collection(session, collection)
            if coll is None:
                raise UnknownCollectionError(f"no collection named {collection!r}")
            if not queries:
                return []
            vectors = self._embedder.embed_queries(list(queries))
            results: list[list[Hit]] = []
            for vector in vectors:
                # Over-fetch a little: ids mid-replace or just deleted are skipped below.
                scores, ids = self._index.search(coll.id, vector, k + 8)
                results.append(self._hydrate(session, coll, scores, ids)[:k])
            return results

    @staticmethod
    def _hydrate(
        session: Session, coll: Collection, scores: np.ndarray, ids: np.ndarray
    ) -> list[Hit]:
        wanted = [int(i) for i in ids if i >= 0]
        if not wanted:
            return []
        rows = session.execute(
            select(Chunk, Document)
            .join(Document, Chunk.document_id == Document.id)
            .where(Chunk.id.in_(wanted), Document.status == "ready")
        ).all()
        by_id = {chunk.id: (chunk, doc) for chunk, doc in rows}
        hits = []
        for score, cid in zip(scores, ids, strict=True):
            found = by_id.get(int(cid))
            if found is None:
                continue
            chunk, doc = found
            hits.append(
                Hit(
                    chunk_id=chunk.id,
                    document_id=doc.id,
                    document=doc.name,
                    collection=coll.name,
                    page=chunk.page,
                    heading_path=chunk.heading_path,
                    text=chunk.text,
                    score=float(score),
                    char_start=chunk.char_start,
                    char_end=chunk.char_end,
                    document_version=doc.version,
                )
            )
        return hits
