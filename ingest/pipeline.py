"""The ingest pipeline: file -> blocks -> chunks -> vectors -> catalog + FAISS.

Parsing, chunking and embedding run outside the writer lock; only the short catalog/index
update holds it (:mod:`ingest.writer`). A background thread parses and chunks the next files
while the caller's thread embeds the chunks of several files in one call; each file is then
committed on its own, in order. A file that fails leaves everything already ingested as it
was. The records passed along are in :mod:`ingest.results`; the index-vs-catalog check and
repair in :mod:`ingest.recovery`.
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
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.engine import refresh_statistics
from db.models import Collection
from ingest.recovery import check_index, rebuild_indexes
from ingest.results import BatchItem, FileResult, IngestStats, PreparedFile
from ingest.types import Chunker, IngestError, Parser, ParseReport, file_type_for
from ingest.writer import DocumentWriter, WriterLock
from retrieval.types import Embedder, VectorIndex

log = logging.getLogger(__name__)

COLLECTION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PREFETCH_FILES = 4  # files parsed ahead of the embedder
_EMBED_BATCH_CHUNKS = 256  # chunks gathered across files per embedding call

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
        index: VectorIndex,
        parser: Parser,
        chunker: Chunker,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._embedder = embedder
        self._index = index
        self._parser = parser
        self._chunker = chunker
        self.stats = IngestStats()
        self._writer = DocumentWriter(settings, session_factory, index)

    @property
    def parser(self) -> Parser:
        """The parser files go through (sandboxed by default)."""
        return self._parser

    def writer_lock(self) -> WriterLock:
        """The data directory's writer lock (reentrant), for changes made outside this class."""
        return self._writer.lock()

    @property
    def settings(self) -> Settings:
        """The settings this ingestor was built with."""
        return self._settings

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
        prepared_q: queue.Queue[tuple[int, PreparedFile | FileResult] | None] = queue.Queue(
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

        pending: list[tuple[int, PreparedFile]] = []

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
                    finish(i, self._writer.record_failure(collection, p.item.name, p.item.path,
                                                          f"embedding failed: {exc}"[:500]))
                pending.clear()
                return
            t1 = time.perf_counter()
            offset = 0
            # The writer lock is held from the first commit to the save that publishes them,
            # so a writer in another process (a Celery worker, the CLI) never starts from a
            # snapshot without them. One index save per batch, not per file: a crash before
            # it leaves committed chunks without vectors, which repair (check) re-embeds.
            with self._writer.lock():
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
                self._writer.save_index(collection)
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
            # A large batch leaves PostgreSQL's planner statistics behind (db.engine).
            with self._sessions() as session:
                refresh_statistics(session, sum(r.chunks for r in results if r is not None
                                                and r.status in ("added", "replaced")))
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
    ) -> PreparedFile | FileResult:
        try:
            return self._prepare(collection, item, stage)
        except IngestError as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - one file must never stop the batch
            log.exception("unexpected error ingesting %s", item.name)
            reason = f"internal error while ingesting: {type(exc).__name__}: {exc}"[:500]
        return self._writer.record_failure(collection, item.name, item.path, reason)

    def _commit_safely(
        self, collection: str, prepared: PreparedFile, vectors: np.ndarray
    ) -> FileResult:
        try:
            return self._writer.commit(collection, prepared, vectors)
        except Exception as exc:  # noqa: BLE001
            log.exception("could not commit %s", prepared.item.name)
            reason = f"internal error while indexing: {type(exc).__name__}: {exc}"[:500]
            return self._writer.record_failure(collection, prepared.item.name,
                                               prepared.item.path, reason)

    def _prepare(
        self, collection: str, item: BatchItem, stage: Callable[[str], None]
    ) -> PreparedFile | FileResult:
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
        unchanged = None if item.force else self._writer.unchanged(collection, item, content_hash)
        if unchanged is not None:
            return unchanged
        stage("parsing")
        t0 = time.perf_counter()
        parsed = self._parser.parse(path, file_type)
        t1 = time.perf_counter()
        stage("chunking")
        drafts = self._chunker.chunk(parsed)
        self.stats.add(parse_s=t1 - t0, chunk_s=time.perf_counter() - t1)
        if not drafts:
            raise IngestError("no text could be extracted from this file")
        return PreparedFile(item, file_type, size, content_hash, parsed.num_pages, drafts,
                            ParseReport.of(parsed))

    # -- delete ------------------------------------------------------------------------
    def delete_document(self, collection: str, document_id: int) -> bool:
        """Delete a document, its chunks and its vectors. False if it does not exist."""
        return self._writer.delete_document(collection, document_id)

    def create_collection(self, name: str) -> Collection:
        """Create (or return) a collection."""
        validate_collection_name(name)
        return self._writer.create_collection(name)

    # -- consistency -------------------------------------------------------------------
    def check(self, repair: bool = False) -> list[str]:
        """Compare catalog chunk ids with FAISS ids per collection; optionally repair.

        Repair removes vectors without a catalog chunk and re-embeds catalog chunks that
        have no vector (chunk text lives in SQL, so nothing is lost).
        """
        return check_index(self._sessions, self._index, self._embedder, self._writer.lock(),
                           repair)

    def rebuild_index(self, collection: str | None = None, factory: str | None = None,
                      progress: Callable[[str], None] | None = None) -> list[str]:
        """Rebuild vector indexes in the structure ``retrieval.index`` names (or ``factory``)."""
        return rebuild_indexes(self._sessions, self._index, self._writer.lock(),
                               self._settings.retrieval.index, collection, factory, progress)
