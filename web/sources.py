"""Source viewer: a cited passage in its document, and rendered PDF pages.

``GET /sources/<chunk_id>``: the passage with its neighbouring chunks, document name, page
and heading path; ``?start=&end=`` (document character offsets) marks the supporting span;
the page image is shown when the stored original is a PDF.

``GET /sources/<document_id>/page/<page>.png``: that page of the uploaded PDF rendered with
pypdfium2 (served from 'self', so the CSP's ``img-src 'self'`` allows it). Documents with
no stored original (ingested from the command line) or that are not PDFs fall back to the
text view of the page's first passage. Unknown ids and pages, and documents the user may not
read, answer 404.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import and_, func, or_, select

from retrieval.catalog import Chunk, Document
from web.auth.guards import readable_chunk, readable_document

bp = Blueprint("sources", __name__, url_prefix="/sources")

NEIGHBOURS = 2
MAX_SPAN_CHARS = 20_000
PAGE_WIDTH_PX = 1100
_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe


def _services() -> Any:
    return current_app.extensions["enclave"]


def stored_pdf(doc: Document) -> Path | None:
    """The uploaded original of ``doc`` when it is a PDF that still exists, else None."""
    if not doc.storage_name or doc.file_type != "pdf":
        return None
    root = _services().settings.uploads_dir.resolve()
    path = (root / doc.storage_name).resolve()
    if path.parent != root or not path.is_file():
        return None
    return path


def _span(doc_length: int) -> tuple[int, int] | None:
    """``?start=&end=``: document character offsets of the supporting span, when sane."""
    try:
        start = int(request.args.get("start", ""))
        end = int(request.args.get("end", ""))
    except ValueError:
        return None
    if 0 <= start < end <= doc_length and end - start <= MAX_SPAN_CHARS:
        return start, end
    return None


def _marked(row: Chunk, span: tuple[int, int]) -> tuple[str, str, str]:
    """``row.text`` cut around the part of ``span`` (document offsets) that lies in it."""
    a = min(max(span[0] - row.char_start, 0), len(row.text))
    b = min(max(span[1] - row.char_start, 0), len(row.text))
    return row.text[:a], row.text[a:b], row.text[b:]


@bp.get("/<int:chunk_id>")
def passage(chunk_id: int):  # type: ignore[no-untyped-def]
    """The chunk in context: neighbouring chunks, the supporting span (or the chunk) marked.

    ``?start=&end=`` are document offsets (a citation's ``char_start`` plus its span): the
    span may reach into the chunks around the matched one, which are shown too.
    """
    with _services().stack.sessions() as session:
        chunk, doc = readable_chunk(session, chunk_id)
        last = session.scalar(select(func.max(Chunk.char_end)).where(Chunk.document_id == doc.id))
        span = _span(last or 0)
        near = Chunk.ordinal.between(chunk.ordinal - NEIGHBOURS, chunk.ordinal + NEIGHBOURS)
        if span:
            near = or_(near, and_(Chunk.char_end > span[0], Chunk.char_start < span[1]))
        rows = session.scalars(
            select(Chunk).where(Chunk.document_id == doc.id, near).order_by(Chunk.ordinal)
            .limit(4 * NEIGHBOURS + 40)
        ).all()
        passages = []
        for row in rows:
            if span:
                parts = _marked(row, span)
                current = bool(parts[1])
            else:
                current = row.id == chunk.id
                parts = ("", row.text, "") if current else (row.text, "", "")
            passages.append({"id": row.id, "current": current, "page": row.page,
                             "heading_path": row.heading_path, "before": parts[0],
                             "marked": parts[1], "after": parts[2]})
        page_url = None
        if chunk.page and stored_pdf(doc) is not None:
            page_url = url_for("sources.page_image", document_id=doc.id, page=chunk.page)
        info = {"name": doc.name, "collection": doc.collection.name, "version": doc.version,
                "file_type": doc.file_type, "pages": doc.num_pages}
    return render_template("source.html", chunk_id=chunk_id, doc=info, page=chunk.page,
                           heading_path=chunk.heading_path, passages=passages,
                           page_url=page_url, span=span)


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
                bitmap = pdf_page.render(scale=scale)
                image = bitmap.to_pil()
            finally:
                pdf_page.close()
        finally:
            pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


@bp.get("/<int:document_id>/page/<int:page>.png")
def page_image(document_id: int, page: int):  # type: ignore[no-untyped-def]
    """A rendered PDF page, or the text view of the page when there is no stored PDF."""
    with _services().stack.sessions() as session:
        doc = readable_document(session, document_id)
        path = stored_pdf(doc)
        if path is None:
            first = session.scalar(
                select(Chunk.id).where(Chunk.document_id == doc.id, Chunk.page == page)
                .order_by(Chunk.ordinal).limit(1)
            )
            if first is None and page == 1:
                first = session.scalar(select(Chunk.id).where(Chunk.document_id == doc.id)
                                       .order_by(Chunk.ordinal).limit(1))
            if first is None:
                abort(404, f"document {document_id} has no page {page}")
            return redirect(url_for("sources.passage", chunk_id=first))
    try:
        png = render_pdf_page(path, page)
    except Exception as exc:  # noqa: BLE001 - a broken PDF is the file's problem, not a 500
        current_app.logger.warning("cannot render %s page %s: %s", path.name, page, exc)
        abort(404, f"page {page} of document {document_id} cannot be rendered")
    if png is None:
        abort(404, f"document {document_id} has no page {page}")
    return Response(png, mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=300"})
