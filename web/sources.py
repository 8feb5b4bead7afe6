"""Source viewer: a cited passage in its document, and rendered PDF pages.

``GET /sources/<chunk_id>``: the passage with its neighbouring chunks, document name, page
and heading path; ``?start=&end=`` (document character offsets) marks the supporting span;
the page image is shown when the stored original is a PDF.

``GET /sources/<document_id>/page/<page>.png``: that page of the uploaded PDF, rendered.
Documents with no stored original (ingested from the command line) or that are not PDFs fall
back to the text view of the page's first passage. Unknown ids and pages, and documents the
user may not read, answer 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from web.auth.guards import actor

bp = Blueprint("sources", __name__, url_prefix="/sources")


def _sources():  # type: ignore[no-untyped-def]
    return current_app.extensions["enclave"].sources


def _offset(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


@bp.get("/<int:chunk_id>")
def passage(chunk_id: int):  # type: ignore[no-untyped-def]
    """The chunk in context: neighbouring chunks, the supporting span (or the chunk) marked."""
    view = _sources().passage(actor(), chunk_id, _offset("start"), _offset("end"))
    page_url = (url_for("sources.page_image", document_id=view.document_id, page=view.page)
                if view.has_page_image else None)
    doc = {"name": view.name, "collection": view.collection, "version": view.version,
           "file_type": view.file_type, "pages": view.pages}
    return render_template("source.html", chunk_id=chunk_id, doc=doc, page=view.page,
                           heading_path=view.heading_path, passages=view.passages,
                           page_url=page_url, span=view.span)


@bp.get("/<int:document_id>/page/<int:page>.png")
def page_image(document_id: int, page: int):  # type: ignore[no-untyped-def]
    """A rendered PDF page, or the text view of the page when there is no stored PDF."""
    found = _sources().page(actor(), document_id, page)
    if isinstance(found, int):
        return redirect(url_for("sources.passage", chunk_id=found))
    return Response(found, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})
