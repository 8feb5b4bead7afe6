"""Dataclasses and Protocols at ingest's stage boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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
    # Characters a reader cannot see (white, tiny, display:none, hidden runs...), dropped by
    # the parser: the document's parse report (ingest.parsers.pdf_hidden, html_hidden,
    # docx_hidden).
    hidden_chars: int = 0

    @property
    def text(self) -> str:
        """The extracted text that chunk offsets refer to."""
        return BLOCK_SEPARATOR.join(b.text for b in self.blocks)


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
