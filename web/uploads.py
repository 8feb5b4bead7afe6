"""Store uploaded files under server-generated names and ingest them."""

from __future__ import annotations

import unicodedata
import uuid
from pathlib import Path, PurePosixPath, PureWindowsPath

from werkzeug.datastructures import FileStorage

from ingest.pipeline import FileResult, Ingestor
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


def save_and_ingest(
    files: list[FileStorage], collection: str, ingestor: Ingestor, uploads_dir: Path,
    allowed_extensions: list[str],
) -> list[FileResult]:
    """Ingest each uploaded file; unsupported types are refused before anything is written."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for upload in files:
        name = display_name(upload.filename)
        suffix = Path(name).suffix.lower()
        if file_type_for(name) is None or suffix not in allowed_extensions:
            results.append(FileResult(
                name, "failed",
                error=f"unsupported file type {suffix or '(no extension)'!r}; "
                f"supported: {', '.join(allowed_extensions)}",
            ))
            continue
        storage_name = f"{uuid.uuid4().hex}{suffix}"
        path = uploads_dir / storage_name
        upload.save(path)
        result = ingestor.ingest_file(path, collection, name=name, storage_name=storage_name)
        if result.status != "added" and result.status != "replaced":
            path.unlink(missing_ok=True)  # unchanged or failed: keep no orphan copy
        results.append(result)
    return results
