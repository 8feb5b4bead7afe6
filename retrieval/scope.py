"""What a principal may read in a collection, resolved once per catalog change, not per query.

Resolving access per query means loading the chunk ids of every readable document: at a
million chunks that is a million-row query and set per question. Instead:

- :class:`ChunkMap` keeps, per collection, every chunk id with its document id as two numpy
  arrays. Chunk ids only grow (``sqlite_autoincrement``, PostgreSQL sequences), so the map is
  brought up to date by reading the chunks above the highest id it holds; ids of deleted
  chunks may linger in it, which grants nothing (they are in no index and no catalog row, and
  their document must still be readable). It is rebuilt when lingering ids pile up.
- :class:`AccessCache` keeps the :class:`~retrieval.types.ChunkSet` a principal may read
  under ``(collection, collection.access_version, admin?, groups)``. The version is bumped by
  database triggers in the same transaction as any change to documents, restrictions, grants
  or groups (migration 0004) and read with the collection row on every request, so a
  revocation takes effect on the very next request, in every process.

A cache miss costs one query over the collection's documents and one vectorised membership
test over its chunks; a hit costs nothing beyond reading the collection row.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from db.models import Collection, Document
from retrieval.acl import Principal, allowed_document_ids
from retrieval.types import ChunkSet


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may read in one collection: documents and their chunks."""

    collection_id: int
    documents: frozenset[int]
    chunks: ChunkSet
    # Every ready document of the collection (an admin, unfiltered): the keyword SQL's own
    # collection and status conditions already say as much, no id list needed.
    everything: bool = False

    def permits(self, chunk_id: int, doc: Document) -> bool:
        """True when ``chunk_id`` of ``doc`` is readable (checked on every hit)."""
        return (chunk_id in self.chunks and doc.id in self.documents
                and doc.collection_id == self.collection_id)


class ChunkMap:
    """Every chunk id of one collection with its document id, grown incrementally."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.documents = np.zeros(0, dtype=np.int64)

    def refresh(self, session: Session, collection_id: int) -> None:
        """Add the collection's chunks above the highest id held.

        Read with the driver's own cursor (on the session's connection and transaction): a
        first read of a million rows takes about a second that way, many times longer as
        SQLAlchemy result rows.
        """
        last = int(self.ids[-1]) if len(self.ids) else 0
        connection = session.connection()
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        cursor = connection.connection.cursor()
        try:
            cursor.execute(
                "SELECT c.id, c.document_id FROM chunks c "
                "JOIN documents d ON d.id = c.document_id "
                f"WHERE d.collection_id = {mark} AND c.id > {mark} ORDER BY c.id",
                (collection_id, last),
            )
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if rows:
            new = np.array(rows, dtype=np.int64)
            self.ids = np.concatenate([self.ids, new[:, 0]])
            self.documents = np.concatenate([self.documents, new[:, 1]])

    def scope(self, collection_id: int, documents: frozenset[int], everything: bool = False
              ) -> Scope:
        """The scope of ``documents``: them and their chunk ids."""
        wanted = np.fromiter(documents, dtype=np.int64, count=len(documents))
        return Scope(collection_id, documents,
                     ChunkSet.of(self.ids[np.isin(self.documents, wanted)]), everything)


class AccessCache:
    """Readable chunk sets per (collection, access version, principal), least recently used out.

    ``live_chunks`` (the vector index's count for the collection) tells when the chunk map
    holds too many ids of deleted chunks and is rebuilt.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._maps: dict[int, tuple[int, ChunkMap]] = {}  # collection -> (version, map)
        self._entries: OrderedDict[tuple[object, ...], Scope] = OrderedDict()
        self._lock = threading.Lock()

    def scope(
        self, session: Session, collection: Collection, principal: Principal,
        live_chunks: int, narrow_to: set[int] | None = None,
    ) -> Scope | None:
        """What ``principal`` may read in ``collection`` (None: nothing), cached per version.

        ``narrow_to`` (document ids from metadata filters) narrows the result; narrowed
        scopes are computed from the cached chunk map but not cached themselves.
        """
        version = collection.access_version
        key = (collection.id, version, principal.is_admin, principal.groups)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
        if cached is None:
            docs = frozenset(allowed_document_ids(session, collection.id, principal))
            cached = self._chunk_map(session, collection, live_chunks).scope(
                collection.id, docs, everything=principal.is_admin)
            with self._lock:
                self._entries[key] = cached
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        if narrow_to is not None:
            cached = self._chunk_map(session, collection, live_chunks).scope(
                collection.id, cached.documents & frozenset(narrow_to))
        if not cached.documents or len(cached.chunks) == 0:
            return None
        return cached

    def _chunk_map(self, session: Session, collection: Collection, live_chunks: int) -> ChunkMap:
        """The collection's chunk map, refreshed when the access version moved."""
        with self._lock:
            version, chunk_map = self._maps.get(collection.id, (-1, ChunkMap()))
        if version == collection.access_version:
            return chunk_map
        if len(chunk_map.ids) > 1.25 * live_chunks + 1000:
            chunk_map = ChunkMap()  # mostly ids of deleted chunks: start over
        else:  # refresh a copy: a concurrent reader may hold the old arrays
            fresh = ChunkMap()
            fresh.ids, fresh.documents = chunk_map.ids, chunk_map.documents
            chunk_map = fresh
        chunk_map.refresh(session, collection.id)
        with self._lock:
            self._maps[collection.id] = (collection.access_version, chunk_map)
        return chunk_map

    def clear(self) -> None:
        """Forget everything (tests, and after a collection is dropped)."""
        with self._lock:
            self._maps.clear()
            self._entries.clear()
