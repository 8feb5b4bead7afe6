"""The ask page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from retrieval.acl import readable_collection_ids
from retrieval.catalog import Collection
from web.auth.guards import account

bp = Blueprint("pages", __name__)


@bp.get("/")
def ask_page():  # type: ignore[no-untyped-def]
    """Question box, streamed answer and citations panel, over the collections you can read."""
    services = current_app.extensions["enclave"]
    with services.stack.sessions() as session:
        ids = readable_collection_ids(session, account().principal)
        names = list(session.scalars(select(Collection.name).where(Collection.id.in_(ids))
                                     .order_by(Collection.name)))
    selected = request.args.get("collection") or services.settings.web.default_collection
    if names and selected not in names:
        selected = names[0]
    return render_template("ask.html", collections=names, selected=selected)
