"""Ingest jobs recorded in the catalog, executed by a worker (in-process threads by default).

A job holds its files with per-file status and stage; the worker commits each file's outcome
as it finishes, so a job interrupted by a crash continues from the last committed file when
the process starts again. Re-running a file that was committed just before the crash finds
the same content hash and reports ``unchanged``: vectors are never duplicated.

With a ``dispatch`` callable (``jobs.runner: celery``, :mod:`ingest.queue`) the manager only
records jobs and hands each file to the queue; Celery workers run :meth:`JobManager.run_file`
per file and the last file to finish closes the job. Progress, cancel and retry read and
write the same rows in both modes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from db.models import FILE_ACTIVE, Collection, Document, IngestJob, IngestJobFile, now
from ingest.pipeline import Ingestor, validate_collection_name
from ingest.results import BatchItem, FileResult

log = logging.getLogger(__name__)

ORPHAN_AGE_S = 3600  # an upload without a document or job row is an orphan after this long


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # gone meanwhile: not ours to delete


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file to put in a job."""

    path: Path
    name: str
    storage_name: str | None = None
    # This file's own groups (a synced subfolder's restriction); None: the job's.
    restrict_to: tuple[str, ...] | None = None
    # "delete": delete the document named ``name`` (a synced file that disappeared);
    # "reingest": ingest it again even if its content is unchanged (BatchItem.force).
    action: str = "ingest"


def _final_status(job: IngestJob) -> str:
    """A finished job's status: cancelled if asked to stop, failed if a file failed, else done."""
    if job.cancel_requested:
        return "cancelled"
    return "failed" if any(f.status == "failed" for f in job.files) else "done"


def _groups(text: str) -> tuple[str, ...]:
    return tuple(g for g in text.split(",") if g)


def _check_groups(groups: Sequence[str]) -> None:
    if any("," in g or not g.strip() for g in groups):
        raise ValueError("group names must be non-empty and contain no commas")


def job_json(job: IngestJob) -> dict[str, Any]:
    """A job with its files and progress counts, ready for JSON."""
    files = [
        {"id": f.id, "name": f.name, "status": f.status, "error": f.error,
         "document_id": f.document_id, "version": f.version, "chunks": f.chunks}
        for f in job.files
    ]
    finished = [f for f in job.files if f.status not in ("queued", *FILE_ACTIVE)]
    return {
        "id": job.id, "collection": job.collection, "status": job.status,
        "source": job.source, "cancel_requested": job.cancel_requested,
        "created_by": job.created_by,
        "restrict_to": [g for g in job.restrict_to.split(",") if g],
        "created_at": job.created_at.isoformat() + "Z",
        "started_at": job.started_at.isoformat() + "Z" if job.started_at else None,
        "finished_at": job.finished_at.isoformat() + "Z" if job.finished_at else None,
        "total": len(job.files), "finished": len(finished),
        "failed": sum(f.status == "failed" for f in job.files),
        "files": files,
    }


class JobManager:
    """Creates jobs and runs them on worker threads (one by default: one writer)."""

    def __init__(self, sessions: sessionmaker[Session], ingestor: Ingestor, workers: int = 1,
                 dispatch: Callable[[int, list[int]], None] | None = None):
        """``dispatch(job_id, file_ids)``: send files to an external queue instead of threads."""
        self._sessions = sessions
        self._ingestor = ingestor
        self._workers = workers
        self._dispatch = dispatch
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        # Called by an idle worker thread about once a second (the sync scheduler's tick).
        self.on_idle: Callable[[], object] | None = None

    # -- create and control ------------------------------------------------------------
    def create(self, collection: str, files: Sequence[NewFile], source: str = "upload", *,
               restrict_to: Sequence[str] = (), created_by: str | None = None) -> int:
        """Record a queued job; returns its id (the worker picks it up).

        ``restrict_to``: group names every document of the job is restricted to.
        """
        validate_collection_name(collection)
        _check_groups(restrict_to)
        for f in files:
            _check_groups(f.restrict_to or ())
            if f.action not in ("ingest", "reingest", "delete"):
                raise ValueError(f"unknown job file action {f.action!r}")
        with self._sessions() as session:
            job = IngestJob(collection=collection, source=source, created_by=created_by,
                            restrict_to=",".join(sorted(set(restrict_to))))
            job.files = [
                IngestJobFile(ordinal=i, name=f.name, path=str(f.path), storage_name=f.storage_name,
                              action=f.action,
                              restrict_to=None if f.restrict_to is None
                              else ",".join(sorted(set(f.restrict_to))))
                for i, f in enumerate(files)
            ]
            session.add(job)
            session.commit()
            job_id = job.id
            file_ids = [f.id for f in job.files]
        if self._dispatch is not None:
            self._send(job_id, file_ids)
        self._notify()
        return job_id

    def _send(self, job_id: int, file_ids: list[int]) -> None:
        """Hand files to the queue; if it refuses, the job fails with the reason (retryable)."""
        assert self._dispatch is not None
        try:
            self._dispatch(job_id, file_ids)
        except Exception as exc:  # noqa: BLE001 - the reason goes on the job, for the user
            log.error("job %s could not be queued: %s", job_id, exc)
            reason = str(exc)[:500]
            with self._sessions() as session:
                session.execute(update(IngestJobFile).where(
                    IngestJobFile.id.in_(file_ids), IngestJobFile.status == "queued",
                ).values(status="failed", error=reason))
                session.execute(update(IngestJob).where(IngestJob.id == job_id).values(
                    status="failed", error=reason, finished_at=now()))
                session.commit()

    def requeue(self) -> int:
        """Send the unfinished files of unfinished jobs to the queue again; returns how many.

        For a broker that lost its messages (restarted without persistence). A file that is
        still queued as well runs twice harmlessly (the second run finds it ``unchanged``).
        """
        if self._dispatch is None:
            return self.recover()
        with self._sessions() as session:
            rows = session.execute(
                select(IngestJobFile.job_id, IngestJobFile.id)
                .join(IngestJob, IngestJob.id == IngestJobFile.job_id)
                .where(IngestJob.status.in_(("queued", "running")),
                       IngestJobFile.status.in_(("queued", *FILE_ACTIVE)))
                .order_by(IngestJobFile.job_id, IngestJobFile.ordinal)
            ).all()
        by_job: dict[int, list[int]] = {}
        for job_id, file_id in rows:
            by_job.setdefault(job_id, []).append(file_id)
        for job_id, file_ids in by_job.items():
            self._dispatch(job_id, file_ids)
        return len(rows)

    def get(self, job_id: int) -> dict[str, Any] | None:
        """The job as JSON, or None."""
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            return job_json(job) if job is not None else None

    def list(self, collection: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Most recent jobs first."""
        with self._sessions() as session:
            stmt = select(IngestJob).order_by(IngestJob.id.desc()).limit(limit)
            if collection is not None:
                stmt = stmt.where(IngestJob.collection == collection)
            return [job_json(j) for j in session.scalars(stmt)]

    def cancel(self, job_id: int) -> bool:
        """Ask a queued or running job to stop; files already committed stay."""
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                return False
            if job.status == "queued":
                job.status = "cancelled"
                job.finished_at = now()
                for f in job.files:
                    if f.status == "queued":
                        f.status = "cancelled"
            elif job.status == "running":
                job.cancel_requested = True
            session.commit()
            return True

    def retry_failed(self, job_id: int) -> int | None:
        """A new job with the failed (and cancelled) files of ``job_id``; None if none."""
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                return None
            again = [NewFile(Path(f.path), f.name, f.storage_name,
                             None if f.restrict_to is None else _groups(f.restrict_to), f.action)
                     for f in job.files if f.status in ("failed", "cancelled")
                     and (f.action == "delete" or Path(f.path).exists())]
            collection, restrict, by = job.collection, job.restrict_to, job.created_by
        if not again:
            return None
        return self.create(collection, again, source="retry",
                           restrict_to=[g for g in restrict.split(",") if g], created_by=by)

    def check_orphans(self, repair: bool = False) -> list[str]:
        """Find files nobody refers to; repair deletes them.

        Those are stored uploads without a document or a pending/failed job file, and temp
        index files left by a crash mid-save.
        """
        settings = self._ingestor.settings
        problems: list[str] = []
        with self._sessions() as session:
            keep = set(session.scalars(select(Document.storage_name)
                                       .where(Document.storage_name.is_not(None))))
            keep |= set(session.scalars(
                select(IngestJobFile.storage_name).where(
                    IngestJobFile.storage_name.is_not(None),
                    IngestJobFile.status.in_(("queued", "failed", "cancelled", *FILE_ACTIVE)),
                )
            ))
        # Another web process may have stored an upload whose job it has not recorded yet:
        # only uploads older than an hour count as orphans.
        settled = time.time() - ORPHAN_AGE_S
        orphans = []
        if settings.uploads_dir.is_dir():
            orphans += [p for p in settings.uploads_dir.iterdir()
                        if p.name not in keep and _mtime(p) < settled]
        # Temp index files are looked at under the writer lock: a writer in another process
        # may be saving one right now.
        with self._ingestor.writer_lock():
            if settings.index_dir.is_dir():
                orphans += [p for p in settings.index_dir.iterdir() if p.name.endswith(".tmp")]
            if orphans:
                problems.append(f"{len(orphans)} orphan files: "
                                + ", ".join(sorted(p.name for p in orphans)[:5]))
                if repair:
                    for path in orphans:
                        path.unlink(missing_ok=True)
        return problems

    # -- worker ------------------------------------------------------------------------
    def recover(self) -> int:
        """After a restart: put interrupted jobs and files back in the queue."""
        with self._sessions() as session:
            n = session.execute(
                update(IngestJob).where(IngestJob.status == "running")
                .values(status="queued")
            ).rowcount
            session.execute(
                update(IngestJobFile).where(IngestJobFile.status.in_(FILE_ACTIVE))
                .values(status="queued")
            )
            session.commit()
        return int(n or 0)

    def start(self) -> None:
        """Recover interrupted jobs and start the worker threads (none with a queue)."""
        if self._dispatch is not None:
            return  # the queue's workers own the jobs; the broker keeps unfinished files
        self.recover()
        for i in range(self._workers):
            t = threading.Thread(target=self._loop, name=f"ingest-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10) -> None:
        """Stop the worker threads after their current file."""
        self._stopping = True
        self._notify()
        for t in self._threads:
            t.join(timeout)

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def _claim(self) -> int | None:
        with self._sessions() as session:
            job = session.scalar(
                select(IngestJob).where(IngestJob.status == "queued").order_by(IngestJob.id)
            )
            if job is None:
                return None
            claimed = session.execute(
                update(IngestJob).where(IngestJob.id == job.id, IngestJob.status == "queued")
                .values(status="running", started_at=job.started_at or now())
            ).rowcount
            session.commit()
            return job.id if claimed else None

    def _loop(self) -> None:
        while not self._stopping:
            job_id = self._claim()
            if job_id is None:
                if self.on_idle is not None:
                    try:
                        self.on_idle()
                    except Exception:  # noqa: BLE001 - the scheduler must not kill the worker
                        log.exception("idle task failed")
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            try:
                self.run(job_id)
            except Exception:  # noqa: BLE001 - a broken job must not kill the worker
                log.exception("job %s crashed", job_id)
                self._finish(job_id, "failed", "internal error; see the server log")

    def run(self, job_id: int, progress: Callable[[str, dict[str, Any]], None] | None = None
            ) -> dict[str, Any]:
        """Run (or resume) one job in this thread; returns the finished job as JSON.

        ``progress(kind, info)`` gets ``stage`` and ``result`` events (the CLI's bar).
        """
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                raise LookupError(f"no job {job_id}")
            if job.status in ("queued", "running"):
                job.status = "running"
                job.started_at = job.started_at or now()
            session.commit()
            collection = job.collection
            restrict = _groups(job.restrict_to)
            todo = [(f.id, BatchItem(Path(f.path), f.name, f.storage_name,
                                     restrict if f.restrict_to is None else _groups(f.restrict_to),
                                     force=f.action == "reingest"))
                    for f in job.files if f.status == "queued" and f.action != "delete"]
            removals = [(f.id, f.name) for f in job.files
                        if f.status == "queued" and f.action == "delete"]
        file_ids = [fid for fid, _ in todo]
        for fid, name in removals:
            if self._cancel_requested(job_id) or self._stopping:
                break
            removed = self._remove(collection, fid, name)
            if progress:
                progress("result", {"index": -1, "result": removed})

        def on_stage(i: int, stage: str) -> None:
            self._set_file(file_ids[i], status=stage)
            if progress:
                progress("stage", {"index": i, "name": todo[i][1].name, "stage": stage})

        def on_result(i: int, result: FileResult) -> None:
            self._record(file_ids[i], result, todo[i][1].storage_name)
            if progress:
                progress("result", {"index": i, "result": result})

        self._ingestor.ingest_batch(
            [item for _, item in todo], collection, on_stage=on_stage, on_result=on_result,
            should_cancel=lambda: self._cancel_requested(job_id) or self._stopping,
        )
        if self._stopping and not self._cancel_requested(job_id):
            return self.get(job_id) or {}  # shutting down: stays "running" -> resumed later
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            assert job is not None
            if job.cancel_requested:
                for f in job.files:
                    if f.status in ("queued", *FILE_ACTIVE):
                        f.status = "cancelled"
            status = _final_status(job)
            session.commit()
        self._finish(job_id, status, None)
        return self.get(job_id) or {}

    # -- one file, on a queue worker ----------------------------------------------------
    def run_file(self, job_id: int, file_id: int) -> str:
        """Ingest one file of a job (a Celery task's body); returns the file's final status.

        Idempotent: a file that already has an outcome is left alone; a file found in an
        active stage was interrupted by a dead worker, so the index is repaired against the
        catalog first (a death between the catalog commit and the snapshot save leaves
        chunks without vectors). The last file to finish closes the job.
        """
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            jf = session.get(IngestJobFile, file_id)
            if job is None or jf is None or jf.job_id != job_id:
                log.warning("job %s file %s: not in the catalog, skipped", job_id, file_id)
                return "missing"
            if jf.status not in ("queued", *FILE_ACTIVE):
                status = jf.status  # delivered again after its outcome was committed
            elif job.cancel_requested or job.status in ("cancelled", "failed"):
                jf.status = status = "cancelled"
            else:
                status = ""
                interrupted = jf.status in FILE_ACTIVE
                if job.status == "queued":
                    job.status = "running"
                    job.started_at = job.started_at or now()
                collection = job.collection
                restrict = (_groups(job.restrict_to) if jf.restrict_to is None
                            else _groups(jf.restrict_to))
                item = BatchItem(Path(jf.path), jf.name, jf.storage_name, restrict,
                                 force=jf.action == "reingest")
                action = jf.action
            session.commit()
        if status:
            self._close_if_finished(job_id)
            return status
        if action == "delete":
            removed = self._remove(collection, file_id, item.name)
            self._close_if_finished(job_id)
            return removed.status
        if interrupted:
            problems = self._ingestor.check(repair=True)
            if problems:
                log.warning("job %s file %s was interrupted; repaired: %s", job_id, file_id,
                            "; ".join(problems))
        result: list[FileResult] = []

        def on_stage(_i: int, stage: str) -> None:
            self._set_file(file_id, status=stage)

        def on_result(_i: int, outcome: FileResult) -> None:
            self._record(file_id, outcome, item.storage_name)
            result.append(outcome)

        self._ingestor.ingest_batch([item], collection, on_stage=on_stage, on_result=on_result,
                                    should_cancel=lambda: self._cancel_requested(job_id))
        if not result:  # cancelled before it started
            self._set_file(file_id, status="cancelled")
        self._close_if_finished(job_id)
        return result[0].status if result else "cancelled"

    def _close_if_finished(self, job_id: int) -> None:
        """Give the job its final status once no file is queued or in progress."""
        with self._sessions() as session:
            job = session.get(IngestJob, job_id)
            if job is None or job.status not in ("queued", "running"):
                return
            if any(f.status in ("queued", *FILE_ACTIVE) for f in job.files):
                return
            session.execute(update(IngestJob).where(
                IngestJob.id == job_id, IngestJob.status.in_(("queued", "running"))
            ).values(status=_final_status(job), finished_at=now()))
            session.commit()

    def _remove(self, collection: str, file_id: int, name: str) -> FileResult:
        """Delete the document ``name`` of a delete action (idempotent: gone is deleted)."""
        with self._sessions() as session:
            found = session.execute(
                select(Document.id, Document.version)
                .join(Collection, Collection.id == Document.collection_id)
                .where(Collection.name == collection, Document.name == name)).first()
        doc_id, version = (found[0], found[1]) if found else (None, None)
        if doc_id is not None:
            self._ingestor.delete_document(collection, doc_id)
        self._set_file(file_id, status="deleted", document_id=doc_id, version=version,
                       chunks=0)
        return FileResult(name, "deleted", doc_id, version)

    def _record(self, file_id: int, result: FileResult, storage_name: str | None) -> None:
        """Store a file's outcome on its job file."""
        self._set_file(file_id, status=result.status, error=result.error,
                       document_id=result.document_id, version=result.version,
                       chunks=result.chunks)
        if result.status == "unchanged" and storage_name:
            # the document keeps the original it already has; this copy is redundant
            (self._ingestor.settings.uploads_dir / storage_name).unlink(missing_ok=True)

    def _cancel_requested(self, job_id: int) -> bool:
        with self._sessions() as session:
            return bool(session.scalar(
                select(IngestJob.cancel_requested).where(IngestJob.id == job_id)))

    def _set_file(self, file_id: int, **values: Any) -> None:
        with self._sessions() as session:
            session.execute(update(IngestJobFile).where(IngestJobFile.id == file_id)
                            .values(**values))
            session.commit()

    def _finish(self, job_id: int, status: str, error: str | None) -> None:
        with self._sessions() as session:
            session.execute(update(IngestJob).where(IngestJob.id == job_id)
                            .values(status=status, error=error, finished_at=now()))
            session.commit()

    def wait(self, job_id: int, timeout: float = 600, poll: float = 0.1) -> dict[str, Any]:
        """Block until the job has finished (for API clients that ask to wait, and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None or job["status"] in ("done", "failed", "cancelled"):
                return job or {}
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout:g} s")
            time.sleep(poll)
