"""The records an ingest passes along and reports.

:class:`BatchItem` is a file to ingest, :class:`PreparedFile` the same file parsed and chunked
while it waits for its vectors, :class:`FileResult` what happened to it, and
:class:`IngestStats` where an ingestor's time went.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ingest.types import ChunkDraft, ParseReport

Status = Literal["added", "replaced", "unchanged", "failed", "cancelled", "deleted"]


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
    # Ingest again even when the ready version has this content (an admin's re-ingest: new
    # parser, chunking or embedding settings), instead of reporting it unchanged.
    force: bool = False


@dataclass(slots=True)
class PreparedFile:
    """A parsed and chunked file waiting for its vectors."""

    item: BatchItem
    file_type: str
    size: int
    content_hash: str
    num_pages: int | None
    drafts: list[ChunkDraft]
    report: ParseReport | None = None  # stored as the document's parse report


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
