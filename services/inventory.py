"""What is stored, for the admin console: every document per collection, storage and index sizes.

Admins only. Documents are listed whatever their status (failed ones with their error), with
what re-ingest and delete need; the statistics come from the catalog, the vector index and
the data directory, read when asked (nothing is kept up to date in the background).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import Chunk, Collection, Document
from retrieval.types import VectorIndex
from services import access
from services.actor import Actor
from services.library import DocumentInfo, document_infos


@dataclass(frozen=True, slots=True)
class CollectionDocuments:
    """A collection with every one of its documents."""

    name: str
    documents: list[DocumentInfo]


@dataclass(frozen=True, slots=True)
class CollectionStats:
    """One collection's share of the catalog and the indexes."""

    name: str
    documents: int  # ready
    failed: int
    other: int  # queued or being ingested
    chunks: int
    vectors: int
    index_structure: str
    original_bytes: int  # the stored originals' sizes, as uploaded


@dataclass(slots=True)
class StorageStats:
    """Storage and index statistics."""

    catalog_backend: str  # sqlite or postgresql
    catalog_bytes: int | None  # the database's size (None: not known)
    index_bytes: int  # every vector index file
    uploads_bytes: int  # stored originals
    keyword_index: str  # what answers keyword searches
    keyword_rows: int | None  # passages in the keyword index
    documents: int = 0
    chunks: int = 0
    vectors: int = 0
    collections: list[CollectionStats] = field(default_factory=list)


def _folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder`` (0 when it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _catalog_bytes(db: Session, settings: Settings) -> int | None:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return int(db.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    if dialect == "sqlite" and not settings.database_url:
        base = settings.data_dir / "enclave.db"
        return sum(p.stat().st_size for p in (base, base.with_name("enclave.db-wal"))
                   if p.is_file())
    return None


def _keyword_index(db: Session, settings: Settings) -> tuple[str, int | None]:
    """Which keyword index answers, and how many passages it holds."""
    if settings.retrieval.mode == "dense":
        return "none (retrieval.mode is dense)", None
    if db.get_bind().dialect.name == "postgresql":
        rows = db.scalar(select(func.count()).select_from(Chunk)
                         .where(text("chunks.search_vector IS NOT NULL")))
        return "PostgreSQL full-text search (tsvector, ts_rank_cd)", int(rows or 0)
    rows = db.scalar(text("SELECT count(*) FROM chunks_fts"))
    return "SQLite FTS5 (BM25, Porter stems)", int(rows or 0)


class Inventory:
    """Documents and storage, as the admin console shows them."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 index: VectorIndex) -> None:
        self._settings = settings
        self._sessions = sessions
        self._index = index

    def documents(self, actor: Actor) -> list[CollectionDocuments]:
        """Every collection with all its documents (failed and in-progress ones included)."""
        access.require_admin(actor)
        with self._sessions() as db:
            return [CollectionDocuments(c.name, document_infos(db, c))
                    for c in db.scalars(select(Collection).order_by(Collection.name))]

    def stats(self, actor: Actor) -> StorageStats:
        """Catalog, vector index, keyword index and upload sizes, and counts per collection."""
        access.require_admin(actor)
        settings = self._settings
        with self._sessions() as db:
            keyword, keyword_rows = _keyword_index(db, settings)
            out = StorageStats(
                catalog_backend=db.get_bind().dialect.name,
                catalog_bytes=_catalog_bytes(db, settings),
                index_bytes=_folder_bytes(settings.index_dir),
                uploads_bytes=_folder_bytes(settings.uploads_dir),
                keyword_index=keyword, keyword_rows=keyword_rows)
            chunks = dict(db.execute(
                select(Document.collection_id, func.count(Chunk.id))
                .join(Chunk, Chunk.document_id == Document.id)
                .group_by(Document.collection_id)).tuples().all())
            docs: dict[int, dict[str, tuple[int, int]]] = {}
            for coll_id, status, n, size in db.execute(
                    select(Document.collection_id, Document.status, func.count(Document.id),
                           func.coalesce(func.sum(Document.size_bytes), 0))
                    .group_by(Document.collection_id, Document.status)).tuples():
                docs.setdefault(coll_id, {})[status] = (int(n), int(size))
            for coll in db.scalars(select(Collection).order_by(Collection.name)):
                by_status = docs.get(coll.id, {})
                ready = by_status.get("ready", (0, 0))[0]
                failed = by_status.get("failed", (0, 0))[0]
                stats = CollectionStats(
                    name=coll.name, documents=ready, failed=failed,
                    other=sum(n for n, _ in by_status.values()) - ready - failed,
                    chunks=int(chunks.get(coll.id, 0)), vectors=self._index.count(coll.id),
                    index_structure=self._index.structure(coll.id),
                    original_bytes=sum(size for _, size in by_status.values()))
                out.collections.append(stats)
        out.documents = sum(c.documents for c in out.collections)
        out.chunks = sum(c.chunks for c in out.collections)
        out.vectors = sum(c.vectors for c in out.collections)
        return out
