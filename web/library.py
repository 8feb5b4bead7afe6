"""Collections and documents pages, with the upload form (for the collection's managers)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from services.container import Services
from services.errors import Invalid, Refused, ServiceError
from services.library import parse_group_names
from web.auth.guards import actor
from web.schemas import CollectionForm, RestrictForm
from web.validation import parse_form

bp = Blueprint("library", __name__, url_prefix="/collections")


def _services() -> Services:
    return current_app.extensions["enclave"]


def _rows() -> list[tuple[str, int]]:
    return [(c.name, c.documents + c.failed) for c in _services().library.collections(actor())]


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The collections you can read (and, for admins, a form to create one)."""
    return render_template("collections.html", collections=_rows(), error=None)


@bp.post("/")
def create():  # type: ignore[no-untyped-def]
    """Create a collection from the form (admins)."""
    form, error = parse_form(CollectionForm)
    if form is None:
        return render_template("collections.html", collections=_rows(), error=error), 422
    try:
        name = _services().library.create_collection(actor(), form.name)
    except Invalid as exc:
        return render_template("collections.html", collections=_rows(), error=exc.message), 422
    return redirect(url_for("library.collection", name=name))


def _render_collection(name: str, rejected: Any = None, status: int = 200,
                       error: str | None = None):  # type: ignore[no-untyped-def]
    services = _services()
    view = services.library.collection_view(actor(), name)
    return render_template(
        "collection.html", name=name, documents=[asdict(d) for d in view.documents],
        rejected=rejected, accept=",".join(services.settings.ingest.allowed_extensions),
        max_mb=services.settings.web.max_upload_mb, jobs=view.jobs, can_manage=view.can_manage,
        grants=view.grants, groups=view.groups, levels=view.levels, error=error,
    ), status


@bp.get("/<name>")
def collection(name: str):  # type: ignore[no-untyped-def]
    """Documents of a collection (and the upload form, for its managers)."""
    return _render_collection(name)


@bp.post("/<name>/upload")
def upload(name: str):  # type: ignore[no-untyped-def]
    """Queue the uploaded files as a job; the page then shows its live progress."""
    files = [f for f in request.files.getlist("files") if f.filename]
    if not files:
        raise Refused("Choose at least one file to upload.")
    try:
        outcome = _services().library.upload(
            actor(), name, files, parse_group_names(request.form.getlist("restrict_to")))
    except Invalid as exc:  # nothing is stored or queued
        return _render_collection(name, error=exc.message, status=422)
    if outcome.rejected:
        return _render_collection(name, rejected=outcome.rejected,
                                  status=200 if outcome.job_id else 422)
    return redirect(url_for("library.collection", name=name, job=outcome.job_id))


@bp.post("/<name>/documents/<int:document_id>/restrict")
def restrict(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Set who may read a document (comma-separated groups; empty: the whole collection)."""
    library = _services().library
    library.restriction_collection(actor(), document_id)  # 404/403 before the form is read
    form, error = parse_form(RestrictForm)  # a form without ``groups`` must not lift anything
    if form is None:
        return _render_collection(name, error=f"{error} (comma-separated groups; send it empty "
                                  "to lift the restriction)", status=422)
    try:
        library.set_restriction(actor(), document_id, parse_group_names(form.groups))
    except ServiceError as exc:  # the restriction is left as it was
        if not isinstance(exc, Invalid):
            raise
        return _render_collection(name, error=exc.message, status=422)
    return redirect(url_for("library.collection", name=name))


@bp.post("/<name>/documents/<int:document_id>/delete")
def delete(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Delete a document, then show the collection again."""
    _services().library.delete_document(actor(), name, document_id)
    return redirect(url_for("library.collection", name=name))
