"""The ingest pipeline: file -> blocks -> chunks -> vectors -> catalog + FAISS.

Parsing, chunking and embedding run outside the writer lock; only the short catalog/index
update holds it. A replaced document switches versions in one catalog transaction: new
vectors are added to FAISS first (invisible: retrieval only returns committed chunks), the
transaction inserts the new chunks and deletes the old ones, and the old vectors are then
removed. A file that fails leaves everything already ingested as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from filelock import FileLock
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from ingest.chunker import HEADING_SEPARATOR, embed_text_for
from ingest.types import ChunkDraft, Chunker, IngestError, Parser
from ingest.unstructured_parser import file_type_for
from retrieval.acl import document_restrictions, restrict_document, unrestrict_document
from retrieval.catalog import (
    Chunk,
    Collection,
    Document,
    get_collection,
    get_or_create_collection,
)
from retrieval.faiss_index import FaissIndexStore
from retrieval.types import Embedder

log = logging.getLogger(__name__)

COLLECTION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Status = Literal["added", "replaced", "unchanged", "failed", "cancelled"]
_PREFETCH_FILES = 4  # files parsed ahead of the embedder
_EMBED_BATCH_CHUNKS = 256  # chunks gathered across files per embedding call


@dataclass(frozen=True, slots=True)
class BatchItem:
    """A file to ingest, its document name and (for uploads) its stored original's name."""

    path: Path
    name: str
    storage_name: str | None = None
    # Groups the document is restricted to, committed in the same transaction as the
    # document (empty: a new document is readable by the whole collection; a replaced one
    # keeps its restriction).
    restrict_to: tuple[str, ...] = ()


@dataclass(slots=True)
class _Prepared:
    """A parsed and chunked file waiting for its vectors."""

    item: BatchItem
    file_type: str
    size: int
    content_hash: str
    num_pages: int | None
    drafts: list[ChunkDraft]


@dataclass
class IngestStats:
    """Where ingest time went (seconds per stage, summed over files) and how much was done.

    Parsing and chunking run on the prefetch thread while embedding runs on the caller's,
    so the stage seconds can add up to more than the wall time.
    """

    files: int = 0
    chunks: int = 0
    text_chars: int = 0
    parse_s: float = 0.0
    chunk_s: float = 0.0
    embed_s: float = 0.0
    index_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: float) -> None:
        """Add to the counters (thread-safe)."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form (seconds rounded to milliseconds)."""
        return {name: round(getattr(self, name), 3) if name.endswith("_s")
                else getattr(self, name)
                for name in ("files", "chunks", "text_chars", "parse_s", "chunk_s", "embed_s",
                             "index_s")}


@dataclass(slots=True)
class FileResult:
    """What happened to one file."""

    name: str
    status: Status
    document_id: int | None = None
    version: int | None = None
    chunks: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def validate_collection_name(name: str) -> str:
    """Return ``name`` if it is a valid collection name, else raise ValueError."""
    if not COLLECTION_NAME_RE.match(name or ""):
        raise ValueError(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def expand_paths(paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """Files to ingest with their document names (relative to a given folder)."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in child.relative_to(path).parts):
                    continue
                found.append((child, child.relative_to(path).as_posix()))
        else:
            found.append((path, path.name))
    return found


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Ingestor:
    """Adds, replaces and deletes documents. Safe to share between threads; one writer."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        index: FaissIndexStore,
        parser: Parser,
        chunker: Chunker,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._embedder = embedder
        self._index = index
        self._parser = parser
        self._chunker = chunker
        self._thread_lock = threading.Lock()
        self.stats = IngestStats()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._file_lock = FileLock(str(settings.data_dir / ".writer.lock"))

    @property
    def parser(self) -> Parser:
        """The parser files go through (sandboxed by default)."""
        return self._parser

    @property
    def settings(self) -> Settings:
        """The settings this ingestor was built with."""
        return self._settings

    def _writer(self) -> _WriterLock:
        return _WriterLock(self._thread_lock, self._file_lock)

    # -- ingest ------------------------------------------------------------------------
    def ingest_paths(
        self,
        paths: Iterable[tuple[Path, str]],
        collection: str,
        on_result: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Ingest ``(path, name)`` pairs; a failing file never stops the batch."""
        items = [BatchItem(path, name) for path, name in paths]
        return self.ingest_batch(items, collection,
                                 on_result=(lambda _i, r: on_result(r)) if on_result else None)

    def ingest_file(
        self, path: Path, collection: str, name: str | None = None, storage_name: str | None = None
    ) -> FileResult:
        """Ingest one file into ``collection``; failures come back as ``status="failed"``."""
        return self.ingest_batch([BatchItem(path, name or path.name, storage_name)], collection)[0]

    def ingest_batch(
        self,
        items: Sequence[BatchItem],
        collection: str,
        on_stage: Callable[[int, str], None] | None = None,
        on_result: Callable[[int, FileResult], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> list[FileResult]:
        """Ingest files with parsing overlapped with embedding, embeddings batched across files.

        A background thread parses and chunks the next files while this thread embeds the
        chunks of several prepared files in one call (sentence-transformers sorts a batch by
        length) and commits each file on its own, in order. ``on_stage(i, stage)`` reports
        ``parsing``, ``chunking``, ``embedding``, ``indexing``; ``on_result(i, result)`` each
        file's outcome. When ``should_cancel()`` turns true, files not yet committed end as
        ``cancelled`` results (nothing half-written).
        """
        validate_collection_name(collection)
        stage = on_stage or (lambda _i, _s: None)
        cancelled = should_cancel or (lambda: False)
        results: list[FileResult | None] = [None] * len(items)
        prepared_q: queue.Queue[tuple[int, _Prepared | FileResult] | None] = queue.Queue(
            maxsize=_PREFETCH_FILES
        )
        stop = threading.Event()

        def produce() -> None:
            try:
                for i, item in enumerate(items):
                    if stop.is_set() or cancelled():
                        break
                    prepared_q.put((i, self._prepare_safely(collection, item,
                                                            lambda st, i=i: stage(i, st))))
            finally:
                prepared_q.put(None)

        producer = threading.Thread(target=produce, name="ingest-prepare", daemon=True)
        producer.start()

        def finish(i: int, result: FileResult) -> None:
            results[i] = result
            if on_result is not None:
                on_result(i, result)

        pending: list[tuple[int, _Prepared]] = []

        def flush() -> None:
            if not pending:
                return
            texts = [d.embed_text or d.text for _, p in pending for d in p.drafts]
            for i, _ in pending:
                stage(i, "embedding")
            t0 = time.perf_counter()
            try:
                vectors = self._embedder.embed_documents(texts)
            except Exception as exc:  # noqa: BLE001 - one batch failing must not stop the job
                log.exception("embedding failed")
                for i, p in pending:
                    finish(i, self._record_failure(collection, p.item.name, p.item.path,
                                                   f"embedding failed: {exc}"[:500]))
                pending.clear()
                return
            t1 = time.perf_counter()
            offset = 0
            for i, p in pending:
                n = len(p.drafts)
                if cancelled():
                    finish(i, FileResult(p.item.name, "cancelled"))
                else:
                    stage(i, "indexing")
                    result = self._commit_safely(collection, p, vectors[offset : offset + n])
                    if result.status in ("added", "replaced"):
                        self.stats.add(files=1, chunks=result.chunks,
                                       text_chars=sum(len(d.text) for d in p.drafts))
                    finish(i, result)
                offset += n
            # One index save per batch, not per file: a crash before it leaves committed
            # chunks without vectors, which start-up repair (check) re-embeds from the catalog.
            self._save_index(collection)
            self.stats.add(embed_s=t1 - t0, index_s=time.perf_counter() - t1)
            pending.clear()

        try:
            while True:
                got = prepared_q.get()
                if got is None:
                    break
                i, prepared = got
                if isinstance(prepared, FileResult):
                    finish(i, prepared)
                    continue
                pending.append((i, prepared))
                if (sum(len(p.drafts) for _, p in pending) >= _EMBED_BATCH_CHUNKS
                        or prepared_q.empty()):
                    flush()
            flush()
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    prepared_q.get_nowait()
                producer.join(timeout=0.05)
        return [r if r is not None else FileResult(items[i].name, "cancelled")
                for i, r in enumerate(results)]

    def _prepare_safely(
        self, collection: str, item: BatchItem, stage: Callable[[str], None]
    ) -> _Prepared | FileResult:
        try:
            return self._prepare(collection, item, stage)
        except IngestError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - one file must never stop the batch
            log.exception("unexpected error ingesting %s", item.name)
            reason = f"internal error while ingesting: {type(exc).__name__}: {exc}"[:500]
        return self._record_failure(collection, item.name, item.path, reason)

    def _commit_safely(self, collection: str, prepared: _Prepared, vectors: np.ndarray) -> FileResult:
        try:
            return self._commit(collection, prepared, vectors)
        except Exception as exc:  # noqa: BLE001
            log.exception("could not commit %s", prepared.item.name)
            reason = f"internal error while indexing: {type(exc).__name__}: {exc}"[:500]
            return self._record_failure(collection, prepared.item.name, prepared.item.path, reason)

    def _prepare(
        self, collection: str, item: BatchItem, stage: Callable[[str], None]
    ) -> _Prepared | FileResult:
        path, name = item.path, item.name
        file_type = file_type_for(name)
        allowed = self._settings.ingest.allowed_extensions
        if file_type is None or Path(name).suffix.lower() not in allowed:
            raise IngestError(
                f"unsupported file type {Path(name).suffix or '(no extension)'!r}; "
                f"supported: {', '.join(allowed)}"
            )
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise IngestError(f"cannot read the file: {exc.strerror or exc}") from exc
        limit = self._settings.ingest.max_file_mb * 2**20
        if size > limit:
            raise IngestError(
                f"the file is {size / 2**20:.1f} MiB; the limit is "
                f"{self._settings.ingest.max_file_mb:g} MiB (ingest.max_file_mb)"
            )
        content_hash = sha256_file(path)
        with self._sessions() as session:
            existing = self._find_document(session, collection, name)
            if existing is not None and existing.status == "ready" and (
                existing.content_hash == content_hash
            ):
                if item.restrict_to and (
                    document_restrictions(session, existing.id) != set(item.restrict_to)
                ):
                    with self._writer():
                        unrestrict_document(session, existing.id)
                        restrict_document(session, existing.id, item.restrict_to)
                        session.commit()
                return FileResult(name, "unchanged", existing.id, existing.version,
                                  self._count_chunks(session, existing.id))
        stage("parsing")
        t0 = time.perf_counter()
        parsed = self._parser.parse(path, file_type)
        t1 = time.perf_counter()
        stage("chunking")
        drafts = self._chunker.chunk(parsed)
        self.stats.add(parse_s=t1 - t0, chunk_s=time.perf_counter() - t1)
        if not drafts:
            raise IngestError("no text could be extracted from this file")
        return _Prepared(item, file_type, size, content_hash, parsed.num_pages, drafts)

    def _commit(self, collection: str, prepared: _Prepared, vectors: np.ndarray) -> FileResult:
        item, drafts = prepared.item, prepared.drafts
        with self._writer(), self._sessions() as session:
            coll = get_or_create_collection(session, collection)
            doc = self._find_document(session, collection, item.name)
            old_ids: list[int] = []
            if doc is None:
                doc = Document(collection_id=coll.id, name=item.name, version=1,
                               file_type=prepared.file_type, content_hash=prepared.content_hash)
                session.add(doc)
                status: Status = "added"
            else:
                old_ids = list(session.scalars(select(Chunk.id).where(Chunk.document_id == doc.id)))
                if doc.status == "ready":
                    if doc.content_hash == prepared.content_hash:  # committed meanwhile
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

    def _save_index(self, collection: str) -> None:
        """Persist the collection's vectors (atomically) after a batch of commits."""
        with self._writer(), self._sessions() as session:
            coll = get_collection(session, collection)
            if coll is not None:
                self._index.save(coll.id)

    def _record_failure(self, collection: str, name: str, path: Path, reason: str) -> FileResult:
        """Record a failed file on its document row, unless a good version already exists."""
        try:
            with self._writer(), self._sessions() as session:
                doc = self._find_document(session, collection, name)
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

    # -- delete ------------------------------------------------------------------------
    def delete_document(self, collection: str, document_id: int) -> bool:
        """Delete a document, its chunks and its vectors. False if it does not exist."""
        with self._writer(), self._sessions() as session:
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
        """Create (or return) a collection."""
        validate_collection_name(name)
        with self._writer(), self._sessions() as session:
            coll = get_or_create_collection(session, name)
            session.commit()
            return coll

    # -- consistency -------------------------------------------------------------------
    def check(self, repair: bool = False) -> list[str]:
        """Compare catalog chunk ids with FAISS ids per collection; optionally repair.

        Repair removes vectors without a catalog chunk and re-embeds catalog chunks that
        have no vector (chunk text lives in SQL, so nothing is lost).
        """
        problems: list[str] = []
        with self._writer(), self._sessions() as session:
            for coll in session.scalars(select(Collection)):
                self._index.reload(coll.id)
                catalog_ids = set(
                    session.scalars(
                        select(Chunk.id)
                        .join(Document, Chunk.document_id == Document.id)
                        .where(Document.collection_id == coll.id, Document.status == "ready")
                    )
                )
                index_ids = set(self._index.ids(coll.id).tolist())
                extra = sorted(index_ids - catalog_ids)
                missing = sorted(catalog_ids - index_ids)
                if extra:
                    problems.append(f"{coll.name}: {len(extra)} vectors without a catalog chunk")
                if missing:
                    problems.append(f"{coll.name}: {len(missing)} catalog chunks without a vector")
                if repair and (extra or missing):
                    self._index.remove(coll.id, np.array(extra, dtype=np.int64))
                    if missing:
                        chunks = session.scalars(select(Chunk).where(Chunk.id.in_(missing))).all()
                        texts = [
                            embed_text_for(
                                tuple(c.heading_path.split(HEADING_SEPARATOR))
                                if c.heading_path else (),
                                c.text,
                            )
                            for c in chunks
                        ]
                        self._index.add(
                            coll.id,
                            np.array([c.id for c in chunks], dtype=np.int64),
                            self._embedder.embed_documents(texts),
                        )
                    self._index.save(coll.id)
        return problems

    @staticmethod
    def _find_document(session: Session, collection: str, name: str) -> Document | None:
        return session.scalar(
            select(Document)
            .join(Collection, Document.collection_id == Collection.id)
            .where(Collection.name == collection, Document.name == name)
        )

    @staticmethod
    def _count_chunks(session: Session, document_id: int) -> int:
        return len(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)).all())


class _WriterLock:
    """Thread lock + inter-process file lock: one writer per data directory."""

    def __init__(self, thread_lock: threading.Lock, file_lock: FileLock) -> None:
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
