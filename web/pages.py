"""The ask page and the search page (passages only, no answer), with their scope selector."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, render_template, request

from retrieval.highlight import highlight, query_stems
from services.container import Services
from services.errors import NotFound
from web.auth.guards import actor
from web.schemas import SearchPageQuery
from web.schemas.forms import ALL_COLLECTIONS
from web.validation import parse_query

bp = Blueprint("pages", __name__)


def _services() -> Services:
    return current_app.extensions["enclave"]


def _readable() -> list[str]:
    return [c.name for c in _services().library.collections(actor())]


@bp.get("/")
def ask_page():  # type: ignore[no-untyped-def]
    """Question box, streamed answer and citations panel, over the collections you can read.

    ``?collection=`` preselects the scope: a collection, or ``*`` for all you can read.
    """
    names = _readable()
    selected = request.args.get("collection") or _services().settings.web.default_collection
    if names and selected not in names and selected != ALL_COLLECTIONS:
        selected = names[0]
    return render_template("ask.html", collections=names, selected=selected, chosen=[])


@bp.get("/search")
def search_page():  # type: ignore[no-untyped-def]
    """Passages matching ``?q=`` in the chosen collections, their matched words marked.

    For people who want sources, not an answer: the document, heading path, page and score
    of each passage, with a link to open it in its document. Only passages of documents you
    may read are listed; a collection you cannot read is a 404, as on the API.
    """
    names = _readable()
    form, error = parse_query(SearchPageQuery)
    status = 200 if form is not None else 422
    found = None
    if form is not None and form.q:
        try:
            found = _services().asking.find(actor(), form.q, form.scope(), form.k)
        except NotFound as exc:
            error, status = exc.message, 404
    stems = query_stems(form.q) if form is not None else frozenset()
    hits = [asdict(h) | {"pieces": highlight(h.text, stems)} for h in found.hits] if found else []
    selected = form.collection if form is not None and form.collection else ALL_COLLECTIONS
    return render_template(
        "search.html", collections=names, selected=selected,
        chosen=form.collections if form is not None else [], query=form.q if form else "",
        hits=hits, searched=found.collections if found else None, error=error), status
