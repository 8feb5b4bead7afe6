"""Synced folders: attach a folder to a collection, list, detach, and sync now (admins only).

The folder must be an absolute path to an existing directory outside the data directory
(and not containing it); restrictions map subfolders to groups. Every change is audited. The
sync itself (listing, hashing, the ingest job) is :class:`ingest.sync.Syncer`'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import SyncSource, SyncSourceFile
from ingest.sync import Syncer, normalize_subfolder, parse_restrictions
from retrieval.catalog import get_collection
from services import access, audit
from services.actor import Actor
from services.errors import Conflict, Invalid, NotFound

MAX_RESTRICTIONS = 200


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A synced source's public fields."""

    id: int
    collection: str
    kind: str
    path: str
    interval_s: int | None
    enabled: bool
    restrictions: dict[str, list[str]]
    created_by: str | None
    created_at: str
    last_run_at: str | None
    last_job_id: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class NewSource:
    """A folder to attach to a collection."""

    collection: str
    path: str
    interval_s: int | None = None
    enabled: bool = True
    restrictions: Mapping[str, Sequence[str]] | None = None


def source_info(row: SyncSource) -> SourceInfo:
    """A source row's public fields."""
    return SourceInfo(
        row.id, row.collection, row.kind, row.path, row.interval_s, row.enabled,
        parse_restrictions(row.restrictions), row.created_by, row.created_at.isoformat() + "Z",
        row.last_run_at.isoformat() + "Z" if row.last_run_at else None, row.last_job_id,
        row.last_error)


def validate_folder(path: str, data_dir: Path) -> Path:
    """The folder of a new source: absolute, an existing directory, apart from the data dir."""
    if not path or "\x00" in path:
        raise Invalid("give the folder's path", field="path")
    folder = Path(path)
    if not folder.is_absolute():
        raise Invalid(f"{path!r} is not an absolute path", field="path")
    if not folder.is_dir():
        raise Invalid(f"{path} is not an existing folder (is the share mounted?)", field="path")
    real, data = folder.resolve(), data_dir.resolve()
    if real == data or real.is_relative_to(data) or data.is_relative_to(real):
        raise Invalid("the folder must lie outside Enclave's data directory (and not contain "
                      "it)", field="path")
    return folder


def validate_restrictions(restrictions: Mapping[str, Sequence[str]] | None
                          ) -> dict[str, list[str]]:
    """``{subfolder: groups}`` normalized (``/hr/`` -> ``hr``), or Invalid."""
    out: dict[str, list[str]] = {}
    for sub, groups in (restrictions or {}).items():
        try:
            key = normalize_subfolder(sub)
        except ValueError as exc:
            raise Invalid(str(exc), field="restrictions") from None
        names = sorted({g.strip() for g in groups if g.strip()})
        if not names or any("," in g for g in names):
            raise Invalid(f"subfolder {key!r}: give one or more group names (no commas)",
                          field="restrictions")
        out[key] = sorted(set(out.get(key, [])) | set(names))
    if len(out) > MAX_RESTRICTIONS:
        raise Invalid(f"at most {MAX_RESTRICTIONS} restricted subfolders", field="restrictions")
    return out


class Syncs:
    """Synced sources, for admins (the CLI acts as one)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 syncer: Syncer) -> None:
        self._settings = settings
        self._sessions = sessions
        self.syncer = syncer

    def list(self, actor: Actor) -> list[SourceInfo]:
        """Every source, by collection and path."""
        access.require_admin(actor)
        with self._sessions() as db:
            rows = db.scalars(select(SyncSource).order_by(SyncSource.collection,
                                                          SyncSource.path))
            return [source_info(r) for r in rows]

    def create(self, actor: Actor, new: NewSource) -> SourceInfo:
        """Attach a folder to an existing collection (synced on the next tick or on demand)."""
        access.require_admin(actor)
        folder = validate_folder(new.path, self._settings.data_dir)
        restrictions = validate_restrictions(new.restrictions)
        if new.interval_s is not None and new.interval_s < 0:
            raise Invalid("interval_s must be 0 (on demand only) or more", field="interval_s")
        with self._sessions() as db:
            if get_collection(db, new.collection) is None:
                raise NotFound(f"no collection named {new.collection!r}")
            row = SyncSource(collection=new.collection, kind="folder", path=str(folder),
                             interval_s=new.interval_s, enabled=new.enabled,
                             restrictions=json.dumps(restrictions, sort_keys=True),
                             created_by=actor.username)
            db.add(row)
            try:
                db.flush()
            except IntegrityError:
                db.rollback()
                raise Conflict(f"{folder} is already synced into {new.collection!r}") from None
            audit.record(db, actor.username, "source.create", f"source {row.id}", ip=actor.ip,
                         detail={"collection": new.collection, "path": str(folder),
                                 "restrictions": restrictions, "interval_s": new.interval_s})
            info = source_info(row)
            db.commit()
            return info

    def delete(self, actor: Actor, source_id: int) -> None:
        """Detach a source; its documents stay in the collection (delete them there)."""
        access.require_admin(actor)
        with self._sessions() as db:
            row = db.get(SyncSource, source_id)
            if row is None:
                raise NotFound(f"no source {source_id}")
            audit.record(db, actor.username, "source.delete", f"source {row.id}", ip=actor.ip,
                         detail={"collection": row.collection, "path": row.path})
            db.execute(delete(SyncSourceFile).where(SyncSourceFile.source_id == row.id))
            db.delete(row)
            db.commit()

    def sync_now(self, actor: Actor, source_id: int) -> dict[str, Any]:
        """List the folder now and queue its changes as a job; returns what it found."""
        access.require_admin(actor)
        with self._sessions() as db:
            if db.get(SyncSource, source_id) is None:
                raise NotFound(f"no source {source_id}")
        report = self.syncer.sync(source_id, created_by=actor.username)
        with self._sessions() as db:
            audit.record(db, actor.username, "source.sync", f"source {source_id}", ip=actor.ip,
                         outcome="failed" if report.error else "ok",
                         detail={"job": report.job_id, "error": report.error})
            db.commit()
        return report.to_dict()
