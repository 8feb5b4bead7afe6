"""The ask page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from web.auth.guards import actor

bp = Blueprint("pages", __name__)


@bp.get("/")
def ask_page():  # type: ignore[no-untyped-def]
    """Question box, streamed answer and citations panel, over the collections you can read."""
    services = current_app.extensions["enclave"]
    names = [c.name for c in services.library.collections(actor())]
    selected = request.args.get("collection") or services.settings.web.default_collection
    if names and selected not in names:
        selected = names[0]
    return render_template("ask.html", collections=names, selected=selected)
