"""Store uploaded files under server-generated names and queue them as an ingest job."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from werkzeug.datastructures import FileStorage

from ingest.jobs import JobManager, NewFile
from ingest.unstructured_parser import file_type_for


def display_name(raw: str | None) -> str:
    """A safe document name from a client-supplied file name (path parts and controls gone)."""
    name = raw or ""
    name = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > 200:
        stem, suffix = Path(name).stem, Path(name).suffix[:16]
        name = stem[: 200 - len(suffix)] + suffix
    return name or "upload"


def queue_uploads(
    files: list[FileStorage], collection: str, jobs: JobManager, uploads_dir: Path,
    allowed_extensions: list[str], *, restrict_to: Sequence[str] = (),
    created_by: str | None = None, hidden_names: frozenset[str] = frozenset(),
) -> tuple[int | None, list[dict[str, object]]]:
    """Store the accepted files and queue one job for them.

    Returns ``(job_id or None, rejected)``; unsupported types are refused before anything
    is written, each with a readable reason. ``restrict_to`` narrows every document of the
    job to those groups from its first commit on. A file named like a document the uploader
    cannot read (``hidden_names``) is refused: it would replace a document they may not see.
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    accepted: list[NewFile] = []
    rejected: list[dict[str, object]] = []
    for upload in files:
        name = display_name(upload.filename)
        suffix = Path(name).suffix.lower()
        if name in hidden_names:
            rejected.append({
                "name": name, "status": "failed", "document_id": None, "version": None,
                "chunks": 0, "error": "a document with this name exists that you cannot read; "
                "rename the file or ask someone who can read it to replace it",
            })
            continue
        if file_type_for(name) is None or suffix not in allowed_extensions:
            rejected.append({
                "name": name, "status": "failed", "document_id": None, "version": None,
                "chunks": 0,
                "error": f"unsupported file type {suffix or '(no extension)'!r}; "
                f"supported: {', '.join(allowed_extensions)}",
            })
            continue
        storage_name = f"{uuid.uuid4().hex}{suffix}"
        upload.save(uploads_dir / storage_name)
        accepted.append(NewFile(uploads_dir / storage_name, name, storage_name))
    job_id = (jobs.create(collection, accepted, restrict_to=restrict_to, created_by=created_by)
              if accepted else None)
    return job_id, rejected
