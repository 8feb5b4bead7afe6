"""Synced sources: mirror a folder (later WebDAV, S3) into a collection, as ingest jobs.

A sync (:meth:`Syncer.sync`) lists the source, compares each file with what the last sync
saw of it (``source_files``: size, modification time, content hash) and with the catalog,
and records one ingest job (``source="sync"``) holding

- the new files and the changed ones (content hash differs) as ordinary ingest files, each
  with its subfolder's restriction, so the job runner parses, embeds and commits them and a
  crash resumes them like any job's;
- a ``delete`` file for each document the source delivered whose file is gone: the job
  deletes it and reports it as ``deleted``.

The content hash is read only for files whose size or modification time changed (or that
are new to the source). Only documents with a ``source_files`` row of this source are ever
deleted: a document uploaded by hand next to synced ones stays. A run that finds nothing to
do records no job (``last_run_at`` still moves). A source whose folder cannot be read, or is
empty while it delivered files before (an unmounted share looks like that), is not synced:
the error is kept on the source and nothing is deleted.

Restrictions per subfolder (``{"hr": ["hr"], "hr/pay": ["payroll"]}``: the longest matching
subfolder wins; files outside them are readable by the whole collection) are applied to new
and replaced documents in the same transaction as the document, and brought in line on
unchanged ones at every sync.

The schedule: :func:`due` compares ``last_run_at`` with the source's interval (or the
``ingest.sync_interval_s`` setting); :meth:`Syncer.tick`, called by the web process's idle
job thread, claims each due source with a compare-and-set on ``last_run_at`` (so two web
processes never sync the same source at once) and syncs it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.models import (
    Collection,
    Document,
    DocumentRestriction,
    Group,
    IngestJob,
    SyncSource,
    SyncSourceFile,
    now,
)
from ingest.jobs import JobManager, NewFile
from ingest.pipeline import Ingestor
from ingest.sources import Entry, Source, open_source
from retrieval.acl import restrict_document, unrestrict_document

log = logging.getLogger(__name__)

TICK_S = 30.0  # the scheduler looks for due sources at most this often


@dataclass
class SyncReport:
    """What one sync of one source did."""

    source_id: int
    collection: str
    path: str
    job_id: int | None = None
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0  # files of types ingest does not accept (ingest.allowed_extensions)
    restricted: list[str] = field(default_factory=list)  # restriction brought in line
    error: str | None = None
    busy: bool = False  # its previous sync job has not finished: nothing done

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def parse_restrictions(text: str) -> dict[str, list[str]]:
    """The ``restrictions`` column as ``{subfolder: [group, ...]}``."""
    value = json.loads(text or "{}")
    return {str(k): [str(g) for g in v] for k, v in value.items()}


def normalize_subfolder(subfolder: str) -> str:
    """``/hr/pay/`` -> ``hr/pay``; refuses empty, ``..`` and hidden parts."""
    parts = [p for p in subfolder.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError("a restricted subfolder needs a name (the whole folder: restrict "
                         "the collection's grants instead)")
    if any(p == ".." or p.startswith(".") for p in parts):
        raise ValueError(f"invalid subfolder {subfolder!r}: no '..' or hidden parts")
    return "/".join(parts)


def groups_for(name: str, restrictions: dict[str, list[str]]) -> tuple[str, ...]:
    """The groups a file is restricted to: its longest restricted subfolder's (or none)."""
    best = ""
    for sub in restrictions:
        if (name.startswith(sub + "/")) and len(sub) > len(best):
            best = sub
    return tuple(sorted(set(restrictions[best]))) if best else ()


def due(source: SyncSource, default_interval_s: int, at: datetime | None = None) -> bool:
    """Whether a scheduled sync of ``source`` is due at ``at`` (now)."""
    interval = source.interval_s if source.interval_s is not None else default_interval_s
    if not source.enabled or interval <= 0:
        return False
    if source.last_run_at is None:
        return True
    return (at or now()) - source.last_run_at >= timedelta(seconds=interval)


class Syncer:
    """Runs syncs of the sources in the catalog (one at a time per source)."""

    def __init__(self, sessions: sessionmaker[Session], ingestor: Ingestor, jobs: JobManager,
                 default_interval_s: int) -> None:
        self._sessions = sessions
        self._ingestor = ingestor
        self._jobs = jobs
        self.default_interval_s = default_interval_s
        self._next_tick = 0.0

    # -- schedule ----------------------------------------------------------------------
    def due_sources(self, at: datetime | None = None) -> list[int]:
        """Ids of the sources whose scheduled sync is due."""
        with self._sessions() as session:
            rows = session.scalars(select(SyncSource).order_by(SyncSource.id)).all()
            return [s.id for s in rows if due(s, self.default_interval_s, at)]

    def claim(self, source_id: int, at: datetime | None = None) -> bool:
        """Mark a due source as run now, unless another process did first."""
        at = at or now()
        with self._sessions() as session:
            source = session.get(SyncSource, source_id)
            if source is None or not due(source, self.default_interval_s, at):
                return False
            claimed = session.execute(
                update(SyncSource).where(SyncSource.id == source_id,
                                         SyncSource.last_run_at.is_(None)
                                         if source.last_run_at is None
                                         else SyncSource.last_run_at == source.last_run_at)
                .values(last_run_at=at)).rowcount
            session.commit()
            return bool(claimed)

    def tick(self, at: datetime | None = None, force: bool = False) -> list[SyncReport]:
        """Sync every due source (the scheduler's step; at most every ``TICK_S`` seconds)."""
        if self.default_interval_s <= 0:
            return []
        if not force and time.monotonic() < self._next_tick:
            return []
        self._next_tick = time.monotonic() + TICK_S
        reports = []
        for source_id in self.due_sources(at):
            if self.claim(source_id, at):
                reports.append(self.sync(source_id, created_by="schedule", claimed=True))
        return reports

    # -- one sync ----------------------------------------------------------------------
    def sync(self, source_id: int, created_by: str = "sync", claimed: bool = False
             ) -> SyncReport:
        """List the source, queue its changes as one job; returns what it found."""
        with self._sessions() as session:
            row = session.get(SyncSource, source_id)
            if row is None:
                raise LookupError(f"no source {source_id}")
            report = SyncReport(row.id, row.collection, row.path)
            kind, location, collection = row.kind, row.path, row.collection
            restrictions = parse_restrictions(row.restrictions)
            last_job = row.last_job_id
            busy = last_job is not None and session.scalar(
                select(IngestJob.status).where(IngestJob.id == last_job)) in ("queued", "running")
            if not claimed:
                row.last_run_at = now()
            session.commit()
        if busy:
            report.busy, report.job_id = True, last_job
            return report
        try:
            source = open_source(kind, location)
            self._plan_and_queue(source_id, source, collection, restrictions, created_by, report)
        except (OSError, ValueError) as exc:
            report.error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("sync of source %s (%s) failed: %s", source_id, location, report.error)
        with self._sessions() as session:
            values: dict[str, Any] = {"last_error": report.error}
            if report.job_id is not None:
                values["last_job_id"] = report.job_id
            session.execute(update(SyncSource).where(SyncSource.id == source_id).values(**values))
            session.commit()
        return report

    def _plan_and_queue(self, source_id: int, source: Source, collection: str,
                        restrictions: dict[str, list[str]], created_by: str,
                        report: SyncReport) -> None:
        entries = source.entries()  # OSError: nothing is changed
        with self._sessions() as session:
            seen = {f.name: f for f in session.scalars(
                select(SyncSourceFile).where(SyncSourceFile.source_id == source_id))}
            seen_state = {n: (f.size, f.mtime_ns, f.content_hash) for n, f in seen.items()}
            docs = {d.name: (d.id, d.status, d.content_hash) for d in session.execute(
                select(Document.name, Document.id, Document.status, Document.content_hash)
                .join(Collection, Collection.id == Document.collection_id)
                .where(Collection.name == collection))}
            groups_of = _restrictions_of(session, collection)
        if not entries and seen_state:
            raise ValueError(f"{source.describe()} is empty but delivered {len(seen_state)} "
                             "files before (an unmounted share?): nothing deleted")

        allowed = set(self._ingestor.settings.ingest.allowed_extensions)
        report.skipped = sum(Path(e.name).suffix.lower() not in allowed for e in entries)
        entries = [e for e in entries if Path(e.name).suffix.lower() in allowed]
        files: list[NewFile] = []
        records: dict[str, tuple[int, int, str]] = {}
        listed = set()
        fix: dict[int, tuple[str, tuple[str, ...]]] = {}
        for entry in entries:
            listed.add(entry.name)
            before = seen_state.get(entry.name)
            same_stat = before is not None and before[:2] == (entry.size, entry.mtime_ns)
            try:
                digest = before[2] if same_stat and before else source.content_hash(entry)
            except OSError:
                continue  # gone or unreadable meanwhile: the next sync sees it again
            if not same_stat:
                records[entry.name] = (entry.size, entry.mtime_ns, digest)
            groups = groups_for(entry.name, restrictions)
            doc = docs.get(entry.name)
            if doc is not None and groups_of.get(doc[0], ()) != groups:
                fix[doc[0]] = (entry.name, groups)
            if doc is not None and doc[1] == "ready" and doc[2] == digest:
                report.unchanged += 1
                continue
            if doc is not None and doc[1] == "failed" and same_stat:
                report.unchanged += 1  # failed before and not changed since: not retried
                continue
            staged = self._stage(source, entry)
            if staged is None:
                continue
            path, storage_name = staged
            files.append(NewFile(path, entry.name, storage_name, groups))
            (report.changed if doc is not None else report.new).append(entry.name)
        gone = sorted(set(seen_state) - listed)
        for name in gone:
            if name in docs:
                files.append(NewFile(Path(""), name, action="delete"))
                report.deleted.append(name)

        if fix:
            self._fix_restrictions(fix)
            report.restricted = sorted(name for name, _ in fix.values())
        if files:
            report.job_id = self._jobs.create(collection, files, source="sync",
                                              created_by=created_by)
        with self._sessions() as session:
            for name, (size, mtime_ns, digest) in records.items():
                session.merge(SyncSourceFile(source_id=source_id, name=name, size=size,
                                             mtime_ns=mtime_ns, content_hash=digest))
            # A deleted file's row goes once its document is gone (the next sync), so a
            # delete the job never ran is found again.
            leftover = [n for n in gone if n not in docs]
            if leftover:
                session.execute(delete(SyncSourceFile).where(
                    SyncSourceFile.source_id == source_id, SyncSourceFile.name.in_(leftover)))
            session.commit()

    def _stage(self, source: Source, entry: Entry) -> tuple[Path, str | None] | None:
        """Where the job reads the file: in place, or a copy in the uploads directory."""
        try:
            local = source.local_path(entry)
            if local is not None:
                return local, None
            uploads = self._ingestor.settings.uploads_dir
            uploads.mkdir(parents=True, exist_ok=True)
            storage_name = f"{uuid.uuid4().hex}{Path(entry.name).suffix.lower()[:16]}"
            with source.open(entry) as src, open(uploads / storage_name, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return uploads / storage_name, storage_name
        except OSError as exc:
            log.warning("sync: cannot read %s: %s", entry.name, exc)
            return None

    def _fix_restrictions(self, fix: dict[int, tuple[str, tuple[str, ...]]]) -> None:
        """Set each document's restriction to its subfolder's groups (one transaction)."""
        with self._ingestor.writer_lock(), self._sessions() as session:
            for doc_id, (_name, groups) in fix.items():
                if session.get(Document, doc_id) is None:
                    continue
                unrestrict_document(session, doc_id)
                if groups:
                    restrict_document(session, doc_id, groups)
            session.commit()


def _restrictions_of(session: Session, collection: str) -> dict[int, tuple[str, ...]]:
    """``{document id: sorted groups}`` of the collection's restricted documents."""
    out: dict[int, list[str]] = {}
    for doc_id, group in session.execute(
        select(DocumentRestriction.document_id, Group.name)
        .join(Group, Group.id == DocumentRestriction.group_id)
        .join(Document, Document.id == DocumentRestriction.document_id)
        .join(Collection, Collection.id == Document.collection_id)
        .where(Collection.name == collection)
    ):
        out.setdefault(doc_id, []).append(group)
    return {d: tuple(sorted(g)) for d, g in out.items()}


def source_ids(sessions: sessionmaker[Session], collection: str | None = None,
               enabled_only: bool = True) -> Sequence[int]:
    """Ids of the sources (of one collection), enabled ones only by default."""
    with sessions() as session:
        stmt = select(SyncSource.id).order_by(SyncSource.id)
        if collection is not None:
            stmt = stmt.where(SyncSource.collection == collection)
        if enabled_only:
            stmt = stmt.where(SyncSource.enabled.is_(True))
        return list(session.scalars(stmt))
