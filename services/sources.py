"""The sources behind an answer: a passage in its document, and rendered PDF pages.

A cited passage is shown with its neighbouring chunks and the supporting span marked (the span
in document character offsets, so it may reach into the chunks around the matched one). A
page of an uploaded PDF is rendered with pypdfium2; documents with no stored PDF fall back to
the first passage of the page.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import Chunk, Document
from services import access
from services.actor import Actor
from services.errors import NotFound

NEIGHBOURS = 2
MAX_SPAN_CHARS = 20_000
PAGE_WIDTH_PX = 1100
_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe


@dataclass(frozen=True, slots=True)
class ShownPassage:
    """One chunk shown around the cited one: its text cut around the marked part."""

    id: int
    current: bool
    page: int | None
    heading_path: str
    before: str
    marked: str
    after: str


@dataclass(frozen=True, slots=True)
class SourceView:
    """A cited chunk in its document."""

    chunk_id: int
    document_id: int
    name: str
    collection: str
    version: int
    file_type: str
    pages: int | None
    page: int | None
    heading_path: str
    passages: list[ShownPassage]
    has_page_image: bool
    span: tuple[int, int] | None


def render_pdf_page(path: Path, page: int, width_px: int = PAGE_WIDTH_PX) -> bytes | None:
    """PNG bytes of 1-based ``page`` of the PDF at ``path`` (None when out of range)."""
    import pypdfium2 as pdfium

    with _PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(path))
        try:
            if not 1 <= page <= len(pdf):
                return None
            pdf_page = pdf[page - 1]
            try:
                width_pt = pdf_page.get_width() or 612
                scale = min(max(width_px / width_pt, 0.5), 4.0)
                image = pdf_page.render(scale=scale).to_pil()
            finally:
                pdf_page.close()
        finally:
            pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _marked(row: Chunk, span: tuple[int, int]) -> tuple[str, str, str]:
    """``row.text`` cut around the part of ``span`` (document offsets) that lies in it."""
    a = min(max(span[0] - row.char_start, 0), len(row.text))
    b = min(max(span[1] - row.char_start, 0), len(row.text))
    return row.text[:a], row.text[a:b], row.text[b:]


class Sources:
    """Show what an answer cites, to those who may read it."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions

    def stored_pdf(self, doc: Document) -> Path | None:
        """The uploaded original of ``doc`` when it is a PDF that still exists, else None."""
        if not doc.storage_name or doc.file_type != "pdf":
            return None
        root = self._settings.uploads_dir.resolve()
        path = (root / doc.storage_name).resolve()
        if path.parent != root or not path.is_file():
            return None
        return path

    def passage(self, actor: Actor, chunk_id: int, start: int | None = None,
                end: int | None = None) -> SourceView:
        """The chunk in context, the supporting span marked.

        ``start``/``end`` are document offsets; when they are not sane the chunk itself is
        marked.
        """
        with self._sessions() as db:
            chunk, doc = access.readable_chunk(db, actor, chunk_id)
            last = db.scalar(select(func.max(Chunk.char_end)).where(Chunk.document_id == doc.id))
            span = ((start, end) if start is not None and end is not None
                    and 0 <= start < end <= (last or 0) and end - start <= MAX_SPAN_CHARS
                    else None)
            near = Chunk.ordinal.between(chunk.ordinal - NEIGHBOURS, chunk.ordinal + NEIGHBOURS)
            if span:
                near = or_(near, and_(Chunk.char_end > span[0], Chunk.char_start < span[1]))
            rows = db.scalars(select(Chunk).where(Chunk.document_id == doc.id, near)
                              .order_by(Chunk.ordinal).limit(4 * NEIGHBOURS + 40)).all()
            shown = []
            for row in rows:
                if span:
                    parts = _marked(row, span)
                    current = bool(parts[1])
                else:
                    current = row.id == chunk.id
                    parts = ("", row.text, "") if current else (row.text, "", "")
                shown.append(ShownPassage(row.id, current, row.page, row.heading_path, *parts))
            return SourceView(
                chunk_id, doc.id, doc.name, doc.collection.name, doc.version, doc.file_type,
                doc.num_pages, chunk.page, chunk.heading_path, shown,
                bool(chunk.page) and self.stored_pdf(doc) is not None, span)

    def page(self, actor: Actor, document_id: int, page: int) -> bytes | int:
        """PNG bytes of a page of a readable uploaded PDF.

        Without a stored PDF: the id of the first chunk of the page, to show as text.
        """
        with self._sessions() as db:
            doc = access.readable_document(db, actor, document_id)
            path = self.stored_pdf(doc)
            if path is None:
                first = db.scalar(select(Chunk.id).where(Chunk.document_id == doc.id,
                                                         Chunk.page == page)
                                  .order_by(Chunk.ordinal).limit(1))
                if first is None and page == 1:
                    first = db.scalar(select(Chunk.id).where(Chunk.document_id == doc.id)
                                      .order_by(Chunk.ordinal).limit(1))
                if first is None:
                    raise NotFound(f"document {document_id} has no page {page}")
                return int(first)
        try:
            png = render_pdf_page(path, page)
        except Exception as exc:  # noqa: BLE001 - a broken PDF is the file's problem
            raise NotFound(f"page {page} of document {document_id} cannot be rendered: "
                           f"{type(exc).__name__}") from None
        if png is None:
            raise NotFound(f"document {document_id} has no page {page}")
        return png
