"""The library: collections, their documents, uploads, restrictions and deletions.

Every method acts for an :class:`Actor` and decides access through :mod:`services.access`;
every change is written to the audit log in the same transaction as the change.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import GRANT_LEVELS, Chunk, Collection, Document, Group
from ingest.jobs import JobManager, NewFile
from ingest.pipeline import Ingestor, validate_collection_name
from ingest.types import ParseReport, file_type_for
from retrieval.acl import (
    collection_grants,
    document_restrictions,
    get_group,
    restrict_document,
    unrestrict_document,
)
from retrieval.catalog import get_collection
from services import access, audit
from services.actor import Actor
from services.errors import Forbidden, Invalid, NotFound, Refused


class UploadedFile(Protocol):
    """A file sent by a client (werkzeug's FileStorage is one)."""

    filename: str | None

    def save(self, dst: str | Path) -> None:
        """Write the file's bytes to ``dst``."""
        ...


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    """A collection as the actor sees it."""

    name: str
    documents: int
    failed: int
    chunks: int
    can_manage: bool


@dataclass(slots=True)
class DocumentInfo:
    """A document's public fields (``restricted_to`` for the collection's managers only)."""

    id: int
    name: str
    file_type: str
    version: int
    status: str
    error: str | None
    chunks: int
    size_bytes: int | None
    pages: int | None
    content_hash: str
    has_original: bool
    updated_at: str
    collection: str = ""
    restricted_to: list[str] | None = None
    # What the parser found and dropped (None: failed, or ingested before parse reports).
    parse_report: ParseReport | None = None


@dataclass(frozen=True, slots=True)
class PassageInfo:
    """One passage (chunk) of a document the actor may read."""

    id: int
    document_id: int
    document: str
    collection: str
    version: int
    page: int | None
    heading_path: str
    text: str


@dataclass(slots=True)
class CollectionView:
    """Everything the collection page shows the actor."""

    name: str
    documents: list[DocumentInfo]
    can_manage: bool
    grants: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    levels: tuple[str, ...] = GRANT_LEVELS


@dataclass(slots=True)
class UploadOutcome:
    """A queued upload: its job (None when every file was refused) and the refused files."""

    job_id: int | None
    rejected: list[dict[str, object]]



def display_name(raw: str | None) -> str:
    """A safe document name from a client-supplied file name (path parts and controls gone)."""
    name = raw or ""
    name = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > 200:
        stem, suffix = Path(name).stem, Path(name).suffix[:16]
        name = stem[: 200 - len(suffix)] + suffix
    return name or "upload"


def parse_group_names(raw: Any) -> list[str]:
    """Group names from a comma-separated string or a list of strings (blank ones dropped)."""
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        return [n.strip() for n in raw.split(",") if n.strip()]
    if isinstance(raw, list | tuple) and all(isinstance(n, str) for n in raw):
        return [m.strip() for n in raw for m in n.split(",") if m.strip()]
    raise Invalid("restrict_to must be a list of group names", field="restrict_to")


def _document_info(doc: Document, chunks: int) -> DocumentInfo:
    return DocumentInfo(
        id=doc.id, name=doc.name, file_type=doc.file_type, version=doc.version,
        status=doc.status, error=doc.error, chunks=chunks, size_bytes=doc.size_bytes,
        pages=doc.num_pages, content_hash=doc.content_hash, has_original=bool(doc.storage_name),
        updated_at=doc.updated_at.isoformat() + "Z",
        parse_report=ParseReport.from_dict(doc.parse_report),
    )


def _chunk_counts(db: Session, collection_id: int) -> dict[int, int]:
    rows = db.execute(
        select(Chunk.document_id, func.count(Chunk.id))
        .join(Document, Chunk.document_id == Document.id)
        .where(Document.collection_id == collection_id)
        .group_by(Chunk.document_id)
    ).all()
    return {doc_id: n for doc_id, n in rows}


def document_infos(db: Session, coll: Collection) -> list[DocumentInfo]:
    """Every document of a collection, whatever its status, by name (no access check)."""
    counts = _chunk_counts(db, coll.id)
    return [_document_info(d, counts.get(d.id, 0)) for d in db.scalars(
        select(Document).where(Document.collection_id == coll.id).order_by(Document.name))]


class Library:
    """Collections and documents, for web pages, the JSON API and the CLIs alike."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], ingestor: Ingestor,
                 jobs: JobManager) -> None:
        self._settings = settings
        self._sessions = sessions
        self._ingestor = ingestor
        self._jobs = jobs

    # -- reading -----------------------------------------------------------------------------
    def collections(self, actor: Actor) -> list[CollectionSummary]:
        """The collections the actor can read, with what it can see in each."""
        with self._sessions() as db:
            out = []
            for coll in access.readable_collections(db, actor):
                docs = access.visible_documents(db, actor, coll)
                counts = _chunk_counts(db, coll.id)
                out.append(CollectionSummary(
                    name=coll.name,
                    documents=sum(d.status == "ready" for d in docs),
                    failed=sum(d.status == "failed" for d in docs),
                    chunks=sum(counts.get(d.id, 0) for d in docs),
                    can_manage=access.can_manage(db, coll.id, actor)))
            return out

    def documents(self, actor: Actor, collection: str) -> list[DocumentInfo]:
        """Documents of a collection the actor can see (failed ones for its managers)."""
        with self._sessions() as db:
            coll = access.readable_collection(db, actor, collection)
            counts = _chunk_counts(db, coll.id)
            return [_document_info(d, counts.get(d.id, 0))
                    for d in access.visible_documents(db, actor, coll)]

    def document(self, actor: Actor, document_id: int) -> DocumentInfo:
        """One document (with its restriction groups when the actor manages its collection)."""
        with self._sessions() as db:
            doc = access.readable_document(db, actor, document_id)
            chunks = db.scalar(select(func.count(Chunk.id)).where(Chunk.document_id == doc.id))
            info = _document_info(doc, chunks or 0)
            info.collection = doc.collection.name
            if access.can_manage(db, doc.collection_id, actor):
                info.restricted_to = sorted(document_restrictions(db, doc.id))
            return info

    def original(self, actor: Actor, document_id: int) -> tuple[Path, str]:
        """The stored original of a readable document: (file, its document name)."""
        with self._sessions() as db:
            doc = access.readable_document(db, actor, document_id)
            name, storage = doc.name, doc.storage_name
        root = self._settings.uploads_dir.resolve()
        file = (root / storage).resolve() if storage else None
        if file is None or file.parent != root or not file.is_file():
            raise NotFound(f"document {document_id} has no stored original (ingested from the "
                           "command line)")
        return file, name

    def passage(self, actor: Actor, chunk_id: int) -> PassageInfo:
        """One passage of a document the actor may read."""
        with self._sessions() as db:
            row, doc = access.readable_chunk(db, actor, chunk_id)
            return PassageInfo(row.id, doc.id, doc.name, doc.collection.name, doc.version,
                               row.page, row.heading_path, row.text)

    def collection_view(self, actor: Actor, name: str) -> CollectionView:
        """The collection page: documents, and for its managers restrictions, grants, jobs."""
        with self._sessions() as db:
            coll = access.readable_collection(db, actor, name)
            counts = _chunk_counts(db, coll.id)
            docs = [_document_info(d, counts.get(d.id, 0))
                    for d in access.visible_documents(db, actor, coll)]
            view = CollectionView(name, docs, access.can_manage(db, coll.id, actor))
            if view.can_manage:
                for d in docs:
                    d.restricted_to = sorted(document_restrictions(db, d.id))
                view.grants = collection_grants(db, coll.id)
                view.groups = list(db.scalars(select(Group.name).order_by(Group.name)))
        if view.can_manage:
            view.jobs = [j for j in self._jobs.list(name, limit=10) if visible_job(actor, j,
                                                                                   True)]
        return view

    # -- changing ----------------------------------------------------------------------------
    def create_collection(self, actor: Actor, name: str) -> str:
        """Create a collection (admins); grant it to groups afterwards."""
        if not actor.is_admin:
            raise Forbidden("Only administrators can create collections.")
        try:
            validate_collection_name(name)
        except ValueError as exc:
            raise Invalid(str(exc), field="name") from None
        self._ingestor.create_collection(name)
        self._audit(actor, "collection.create", name)
        return name

    def existing_groups(self, names: Sequence[str], field: str = "groups") -> tuple[str, ...]:
        """``names`` (sorted, unique) if every group exists (else Invalid).

        A typo must not make a document unreadable to everyone.
        """
        names = sorted(set(names))
        with self._sessions() as db:
            missing = [n for n in names if get_group(db, n) is None]
        if missing:
            raise Invalid(f"unknown groups: {', '.join(missing)}", field=field)
        return tuple(names)

    def upload(self, actor: Actor, collection: str, files: Sequence[UploadedFile],
               restrict_to: Sequence[str] = ()) -> UploadOutcome:
        """Store the files and queue them as one ingest job for the actor (audited).

        Managers of an existing collection may upload; admins also to a new one. Unsupported
        types, and names of documents the actor cannot read (the upload would replace them),
        are refused up front, each with a reason.
        """
        try:
            validate_collection_name(collection)
        except ValueError as exc:
            raise Refused(str(exc)) from None
        with self._sessions() as db:
            coll = get_collection(db, collection)
            if coll is None and actor.is_admin:
                hidden: frozenset[str] = frozenset()
            else:
                coll = access.managed_collection(db, actor, collection)
                hidden = access.hidden_document_names(db, actor, coll)
        restrict = self.existing_groups(restrict_to, field="restrict_to")  # nothing stored yet
        self._ingestor.create_collection(collection)
        job_id, rejected = self._store(files, collection, restrict, actor.username, hidden)
        self._audit(actor, "document.upload", collection, job_id=job_id,
                    restrict_to=list(restrict), files=[display_name(f.filename) for f in files],
                    rejected=[r["name"] for r in rejected])
        return UploadOutcome(job_id, rejected)

    def _store(self, files: Sequence[UploadedFile], collection: str, restrict: tuple[str, ...],
               created_by: str, hidden: frozenset[str]) -> tuple[int | None, list[dict[str, object]]]:
        uploads_dir = self._settings.uploads_dir
        allowed = self._settings.ingest.allowed_extensions
        uploads_dir.mkdir(parents=True, exist_ok=True)
        accepted: list[NewFile] = []
        rejected: list[dict[str, object]] = []
        for upload in files:
            name = display_name(upload.filename)
            suffix = Path(name).suffix.lower()
            reason = None
            if name in hidden:
                reason = ("a document with this name exists that you cannot read; rename the "
                          "file or ask someone who can read it to replace it")
            elif file_type_for(name) is None or suffix not in allowed:
                reason = (f"unsupported file type {suffix or '(no extension)'!r}; "
                          f"supported: {', '.join(allowed)}")
            if reason:
                rejected.append({"name": name, "status": "failed", "document_id": None,
                                 "version": None, "chunks": 0, "error": reason})
                continue
            storage_name = f"{uuid.uuid4().hex}{suffix}"
            upload.save(uploads_dir / storage_name)
            accepted.append(NewFile(uploads_dir / storage_name, name, storage_name))
        job_id = (self._jobs.create(collection, accepted, restrict_to=restrict,
                                    created_by=created_by) if accepted else None)
        return job_id, rejected

    def reingest(self, actor: Actor, collection: str, document_id: int) -> int:
        """Ingest a document again from its stored original, as a job; returns the job id.

        Managers of the collection. Parsed, chunked and embedded again with the current
        settings even when the file is unchanged (a failed document gets another try); the
        document keeps its name and restriction and gets a new version. A document with no
        stored original (ingested from the command line or a synced folder) is refused.
        """
        with self._sessions() as db:
            doc = access.managed_document(db, actor, collection, document_id)
            name, storage, version = doc.name, doc.storage_name, doc.version
        root = self._settings.uploads_dir.resolve()
        file = (root / storage).resolve() if storage else None
        if file is None or file.parent != root or not file.is_file():
            raise Refused(f"{name!r} has no stored original to ingest again: upload it again "
                          "(or sync its folder)")
        job_id = self._jobs.create(
            collection, [NewFile(file, name, storage, action="reingest")], source="reingest",
            created_by=actor.username)
        self._audit(actor, "document.reingest", f"{collection}/{name}", document_id=document_id,
                    version=version, job_id=job_id)
        return job_id

    def delete_document(self, actor: Actor, collection: str, document_id: int) -> None:
        """Delete a document with its chunks and vectors (managers of the collection)."""
        with self._sessions() as db:
            doc = access.managed_document(db, actor, collection, document_id)
            name, version = doc.name, doc.version
        if not self._ingestor.delete_document(collection, document_id):
            raise NotFound(f"no document {document_id} in collection {collection!r}")
        self._audit(actor, "document.delete", f"{collection}/{name}", document_id=document_id,
                    version=version)

    def set_restriction(self, actor: Actor, document_id: int, groups: Sequence[str]) -> list[str]:
        """Narrow a readable document to ``groups`` (empty: the whole collection); managers only.

        Takes effect on the next search; audited with before and after.
        """
        names = self.existing_groups([g.strip() for g in groups])
        with self._sessions() as db:
            doc = access.readable_document(db, actor, document_id)
            coll_name = doc.collection.name
            access.managed_collection(db, actor, coll_name)
            before = sorted(document_restrictions(db, doc.id))
            unrestrict_document(db, doc.id)
            if names:
                restrict_document(db, doc.id, names)
            audit.record(db, actor.username, "document.restrict", f"{coll_name}/{doc.name}",
                         ip=actor.ip, detail={"document_id": doc.id, "before": before,
                                              "after": list(names)})
            db.commit()
        return list(names)

    def restriction_collection(self, actor: Actor, document_id: int) -> str:
        """The collection of a document the actor manages (for the page to return to)."""
        with self._sessions() as db:
            doc = access.readable_document(db, actor, document_id)
            access.managed_collection(db, actor, doc.collection.name)
            return doc.collection.name

    def _audit(self, actor: Actor, action: str, target: str, **detail: Any) -> None:
        with self._sessions() as db:
            audit.record(db, actor.username, action, target, detail=detail, ip=actor.ip)
            db.commit()


def visible_job(actor: Actor, job: dict[str, Any], manages: bool) -> bool:
    """Whether the actor may see a job of a collection (``manages``: it manages it).

    Admins see every job; managers those of their collections, except jobs restricted to
    groups they are not in (the file names would tell what they may not read).
    """
    if actor.is_admin:
        return True
    restricted = set(job.get("restrict_to") or ())
    return manages and (not restricted or bool(restricted & actor.principal.groups))

