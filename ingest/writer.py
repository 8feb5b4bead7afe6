"""The one writer of a data directory: catalog and vector index changes, one at a time.

:class:`DocumentWriter` holds the writer lock (a thread lock plus an inter-process file lock
in the data directory) for every change. A replaced document switches versions in one catalog
transaction: the new vectors are added to the index first (invisible: retrieval only returns
committed chunks), the transaction inserts the new chunks and deletes the old ones, and the
old vectors are then removed. Failures are recorded on the document row without touching a
working version.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from filelock import FileLock
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import Chunk, Collection, Document
from ingest.chunker import HEADING_SEPARATOR
from ingest.results import BatchItem, FileResult, PreparedFile, Status
from ingest.types import file_type_for
from retrieval.acl import document_restrictions, restrict_document, unrestrict_document
from retrieval.catalog import get_collection, get_or_create_collection
from retrieval.types import VectorIndex

log = logging.getLogger(__name__)


class WriterLock:
    """Thread lock + inter-process file lock: one writer per data directory.

    Reentrant, so a batch can hold it across several commits and the index save that
    publishes them: another process never loads a snapshot that is missing changes this one
    made (a lost update when both then save).
    """

    def __init__(self, thread_lock: threading.RLock, file_lock: FileLock) -> None:
        self._thread_lock = thread_lock
        self._file_lock = file_lock

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            self._file_lock.acquire()
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        self._file_lock.release()
        self._thread_lock.release()


class DocumentWriter:
    """Commits prepared files, records failures and deletes documents under the writer lock."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], index: VectorIndex
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._index = index
        self._thread_lock = threading.RLock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(str(settings.data_dir / ".writer.lock"))

    def lock(self) -> WriterLock:
        """The writer lock (a context manager), for changes made outside this class."""
        return WriterLock(self._thread_lock, self._file_lock)

    def unchanged(self, collection: str, item: BatchItem, content_hash: str) -> FileResult | None:
        """The result for a file whose ready version has this content, else None.

        The document's restriction is brought in line with ``item.restrict_to`` when one is
        given and differs.
        """
        with self._sessions() as session:
            existing = _find_document(session, collection, item.name)
            if existing is not None and existing.status == "ready" and (
                existing.content_hash == content_hash
            ):
                if item.restrict_to and (
                    document_restrictions(session, existing.id) != set(item.restrict_to)
                ):
                    with self.lock():
                        unrestrict_document(session, existing.id)
                        restrict_document(session, existing.id, item.restrict_to)
                        session.commit()
                return FileResult(item.name, "unchanged", existing.id, existing.version,
                                  _count_chunks(session, existing.id))
        return None

    def commit(self, collection: str, prepared: PreparedFile, vectors: np.ndarray) -> FileResult:
        """Add or replace the document of ``prepared`` with its chunks and vectors."""
        item, drafts = prepared.item, prepared.drafts
        with self.lock(), self._sessions() as session:
            coll = get_or_create_collection(session, collection)
            doc = _find_document(session, collection, item.name)
            old_ids: list[int] = []
            if doc is None:
                doc = Document(collection_id=coll.id, name=item.name, version=1,
                               file_type=prepared.file_type, content_hash=prepared.content_hash)
                session.add(doc)
                status: Status = "added"
            else:
                old_ids = list(session.scalars(select(Chunk.id).where(Chunk.document_id == doc.id)))
                if doc.status == "ready":
                    if doc.content_hash == prepared.content_hash and not item.force:
                        # committed meanwhile
                        return FileResult(item.name, "unchanged", doc.id, doc.version, len(old_ids))
                    doc.version += 1
                    status = "replaced"
                else:
                    status = "added"
            doc.file_type = prepared.file_type
            doc.content_hash = prepared.content_hash
            doc.size_bytes = prepared.size
            doc.status = "ready"
            doc.error = None
            doc.num_pages = prepared.num_pages
            doc.parse_report = None if prepared.report is None else prepared.report.to_dict()
            replaced_original = (
                doc.storage_name if doc.storage_name != item.storage_name else None
            )
            doc.storage_name = item.storage_name
            session.flush()
            if item.restrict_to:
                unrestrict_document(session, doc.id)
                restrict_document(session, doc.id, item.restrict_to)
            rows = [
                Chunk(
                    document_id=doc.id, ordinal=i, text=d.text, kind=d.kind, page=d.page,
                    heading_path=HEADING_SEPARATOR.join(d.heading_path),
                    char_start=d.char_start, char_end=d.char_end, token_count=d.token_count,
                    ocr_confidence=d.ocr_confidence,
                )
                for i, d in enumerate(drafts)
            ]
            session.add_all(rows)
            session.flush()
            new_ids = np.array([r.id for r in rows], dtype=np.int64)
            self._index.add(coll.id, new_ids, vectors)
            try:
                if old_ids:
                    session.execute(delete(Chunk).where(Chunk.id.in_(old_ids)))
                session.commit()
            except Exception:
                session.rollback()
                self._index.remove(coll.id, new_ids)
                raise
            self._index.remove(coll.id, np.array(old_ids, dtype=np.int64))
            if replaced_original:  # the previous version's uploaded original
                (self._settings.uploads_dir / replaced_original).unlink(missing_ok=True)
            return FileResult(item.name, status, doc.id, doc.version, len(rows))

    def save_index(self, collection: str) -> None:
        """Persist the collection's vectors (atomically) after a batch of commits."""
        with self.lock(), self._sessions() as session:
            coll = get_collection(session, collection)
            if coll is not None:
                self._index.save(coll.id)

    def record_failure(self, collection: str, name: str, path: Path, reason: str) -> FileResult:
        """Record a failed file on its document row, unless a good version already exists."""
        try:
            with self.lock(), self._sessions() as session:
                doc = _find_document(session, collection, name)
                if doc is not None and doc.status == "ready":
                    # Keep the working version searchable; report the rejected update.
                    return FileResult(
                        name, "failed", doc.id, doc.version,
                        error=f"{reason} (version {doc.version} is kept unchanged)",
                    )
                coll = get_or_create_collection(session, collection)
                if doc is None:
                    doc = Document(collection_id=coll.id, name=name, version=0,
                                   file_type=(file_type_for(name) or "unknown"),
                                   content_hash="")
                    session.add(doc)
                doc.status = "failed"
                doc.error = reason
                try:
                    doc.size_bytes = path.stat().st_size
                except OSError:
                    doc.size_bytes = 0
                session.commit()
                return FileResult(name, "failed", doc.id, None, error=reason)
        except Exception:  # noqa: BLE001 - reporting must not fail the batch either
            log.exception("could not record failure of %s", name)
            return FileResult(name, "failed", error=reason)

    def delete_document(self, collection: str, document_id: int) -> bool:
        """Delete a document, its chunks and its vectors. False if it does not exist."""
        with self.lock(), self._sessions() as session:
            coll = get_collection(session, collection)
            doc = session.get(Document, document_id)
            if coll is None or doc is None or doc.collection_id != coll.id:
                return False
            ids = np.array(
                session.scalars(select(Chunk.id).where(Chunk.document_id == doc.id)).all(),
                dtype=np.int64,
            )
            storage_name = doc.storage_name
            session.execute(delete(Chunk).where(Chunk.document_id == doc.id))
            session.delete(doc)
            session.commit()
            self._index.remove(coll.id, ids)
            self._index.save(coll.id)
        if storage_name:
            (self._settings.uploads_dir / storage_name).unlink(missing_ok=True)
        return True

    def create_collection(self, name: str) -> Collection:
        """Create (or return) a collection (``name`` already validated)."""
        with self.lock(), self._sessions() as session:
            coll = get_or_create_collection(session, name)
            session.commit()
            return coll


def _find_document(session: Session, collection: str, name: str) -> Document | None:
    """The document named ``name`` in ``collection``, whatever its status."""
    return session.scalar(
        select(Document)
        .join(Collection, Document.collection_id == Collection.id)
        .where(Collection.name == collection, Document.name == name)
    )


def _count_chunks(session: Session, document_id: int) -> int:
    return len(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)).all())
