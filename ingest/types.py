"""Dataclasses and Protocols at ingest's stage boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

BLOCK_SEPARATOR = "\n\n"

# The file types Enclave reads, by file name suffix (every parser backend handles these).
FILE_TYPES = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".eml": "eml",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}


def file_type_for(name: str) -> str | None:
    """The file type (``pdf``, ``docx``...) for a file name, or None if unsupported."""
    return FILE_TYPES.get(Path(name).suffix.lower())


class IngestError(Exception):
    """A file could not be ingested; ``str(err)`` is a reason a user can read."""


@dataclass(frozen=True, slots=True)
class Block:
    """One structural element of a parsed document (a heading, paragraph, list item, table)."""

    text: str
    kind: str  # "title" | "text" | "table"
    page: int | None = None
    depth: int | None = None  # heading level for titles (0 = top)
    ocr_confidence: float | None = None  # mean OCR word confidence (0-100); None: not OCRed


@dataclass(slots=True)
class ParsedDocument:
    """A document as a sequence of blocks; its text is the blocks joined by a blank line."""

    blocks: list[Block]
    num_pages: int | None = None
    # Characters a reader cannot see (white, tiny, display:none, hidden runs, hidden slides
    # and sheets...), dropped by the parser (ingest.parsers.pdf_hidden, html_hidden,
    # docx_hidden, office_hidden); by reason where the parser tells them apart.
    hidden_chars: int = 0
    hidden_by_reason: dict[str, int] = field(default_factory=dict)
    ocr_pages: int = 0  # pages (or image frames) read with OCR
    unread_pages: int = 0  # scanned pages left unread (OCR off or not installed)

    @property
    def text(self) -> str:
        """The extracted text that chunk offsets refer to."""
        return BLOCK_SEPARATOR.join(b.text for b in self.blocks)


def _count(value: Any) -> int:
    """A non-negative count from stored JSON (anything else: 0)."""
    return value if type(value) is int and value > 0 else 0


@dataclass(frozen=True, slots=True)
class ParseReport:
    """What parsing found and dropped in one document version (``documents.parse_report``).

    Stored as the small JSON object of :meth:`to_dict` (never a pickle) and read back by
    :meth:`from_dict`, which ignores unknown keys and malformed values.
    """

    hidden_chars: int = 0  # characters a reader cannot see, dropped (whitespace not counted)
    hidden_by_reason: dict[str, int] = field(default_factory=dict)  # e.g. {"hidden-run": 40}
    pages: int | None = None  # pages, slides or sheets (None: the format has none)
    ocr_pages: int = 0  # pages read with OCR
    unread_pages: int = 0  # scanned pages not read (OCR off or not installed)
    tables: int = 0  # tables kept as tables

    @classmethod
    def of(cls, document: ParsedDocument) -> ParseReport:
        """The report of a parsed document."""
        return cls(hidden_chars=document.hidden_chars,
                   hidden_by_reason=dict(sorted(document.hidden_by_reason.items())),
                   pages=document.num_pages, ocr_pages=document.ocr_pages,
                   unread_pages=document.unread_pages,
                   tables=sum(1 for b in document.blocks if b.kind == "table"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored in the catalog."""
        return {"hidden_chars": self.hidden_chars,
                "hidden_by_reason": dict(self.hidden_by_reason), "pages": self.pages,
                "ocr_pages": self.ocr_pages, "unread_pages": self.unread_pages,
                "tables": self.tables}

    @classmethod
    def from_dict(cls, data: Any) -> ParseReport | None:
        """A stored report (None for no report: a failed document, or one ingested before)."""
        if not isinstance(data, dict):
            return None
        reasons = data.get("hidden_by_reason")
        pages = data.get("pages")
        return cls(
            hidden_chars=_count(data.get("hidden_chars")),
            hidden_by_reason={str(k): _count(v) for k, v in sorted(reasons.items())
                              if _count(v)} if isinstance(reasons, dict) else {},
            pages=pages if type(pages) is int and pages >= 0 else None,
            ocr_pages=_count(data.get("ocr_pages")),
            unread_pages=_count(data.get("unread_pages")),
            tables=_count(data.get("tables")))


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk before it has a catalog id."""

    text: str
    kind: str
    page: int | None
    heading_path: tuple[str, ...]
    char_start: int
    char_end: int
    token_count: int
    embed_text: str = field(repr=False, default="")
    ocr_confidence: float | None = None  # mean over its OCRed blocks (0-100); None: no OCR


class Parser(Protocol):
    """Turns a file into structural blocks."""

    def parse(self, path: Path, file_type: str) -> ParsedDocument:
        """Parse ``path`` (of type ``file_type``, e.g. ``pdf``); raise IngestError if unusable."""
        ...


class Chunker(Protocol):
    """Groups blocks into passages that fit the embedding model's window."""

    def chunk(self, document: ParsedDocument) -> list[ChunkDraft]:
        """Chunks in document order."""
        ...
