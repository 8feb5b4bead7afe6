"""Collections and documents pages, with the upload form (for the collection's managers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from retrieval.acl import (
    GRANT_LEVELS,
    Group,
    collection_grants,
    document_restrictions,
    readable_collection_ids,
)
from retrieval.catalog import Collection
from web.api import (
    apply_restriction,
    audit_event,
    chunk_counts,
    document_json,
    prepare_upload,
    queue_upload_job,
    restriction_groups,
)
from web.auth.guards import (
    account,
    admin_required,
    can_manage,
    managed_document,
    readable_collection,
    visible_documents,
)
from web.jobs import visible_job
from web.schemas import CollectionForm, RestrictForm
from web.validation import parse_form

bp = Blueprint("library", __name__, url_prefix="/collections")


def _services() -> Any:
    return current_app.extensions["enclave"]


def _rows() -> list[tuple[str, int]]:
    with _services().stack.sessions() as session:
        ids = readable_collection_ids(session, account().principal)
        colls = session.scalars(select(Collection).where(Collection.id.in_(ids))
                                .order_by(Collection.name)).all()
        return [(c.name, len(visible_documents(session, c))) for c in colls]


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The collections you can read (and, for admins, a form to create one)."""
    return render_template("collections.html", collections=_rows(), error=None)


@bp.post("/")
@admin_required
def create():  # type: ignore[no-untyped-def]
    """Create a collection from the form (admins)."""
    form, error = parse_form(CollectionForm)
    if form is None:
        return render_template("collections.html", collections=_rows(), error=error), 422
    name = form.name
    _services().ingestor.create_collection(name)
    audit_event("collection.create", name)
    return redirect(url_for("library.collection", name=name))


def _render_collection(name: str, rejected=None, status: int = 200,  # type: ignore[no-untyped-def]
                       error: str | None = None):
    services = _services()
    with services.stack.sessions() as session:
        coll = readable_collection(session, name)
        counts = chunk_counts(session, coll.id)
        docs = [document_json(d, counts.get(d.id, 0)) for d in visible_documents(session, coll)]
        manager = can_manage(session, coll.id, account())
        if manager:
            for d in docs:
                d["restricted_to"] = sorted(document_restrictions(session, d["id"]))
        grants = collection_grants(session, coll.id) if manager else {}
        groups = list(session.scalars(select(Group.name).order_by(Group.name))) if manager else []
    accept = ",".join(services.settings.ingest.allowed_extensions)
    jobs = [j for j in services.jobs.list(name, limit=10) if visible_job(j)] if manager else []
    return render_template(
        "collection.html", name=name, documents=docs, rejected=rejected, accept=accept,
        max_mb=services.settings.web.max_upload_mb, jobs=jobs, can_manage=manager,
        grants=grants, groups=groups, levels=GRANT_LEVELS, error=error,
    ), status


@bp.get("/<name>")
def collection(name: str):  # type: ignore[no-untyped-def]
    """Documents of a collection (and the upload form, for its managers)."""
    return _render_collection(name)


@bp.post("/<name>/upload")
def upload(name: str):  # type: ignore[no-untyped-def]
    """Queue the uploaded files as a job; the page then shows its live progress."""
    hidden = prepare_upload(name)
    files = [f for f in request.files.getlist("files") if f.filename]
    if not files:
        abort(400, "Choose at least one file to upload.")
    try:
        restrict = restriction_groups(request.form.getlist("restrict_to"))
    except ValueError as exc:  # nothing is stored or queued
        return _render_collection(name, error=str(exc), status=422)
    _services().ingestor.create_collection(name)  # the page below shows it, even if all fail
    job_id, rejected = queue_upload_job(name, files, restrict, hidden)
    if rejected:
        return _render_collection(name, rejected=rejected, status=200 if job_id else 422)
    return redirect(url_for("library.collection", name=name, job=job_id))


@bp.post("/<name>/documents/<int:document_id>/restrict")
def restrict(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Set who may read a document (comma-separated groups; empty: the whole collection)."""
    with _services().stack.sessions() as session:
        managed_document(session, name, document_id)
    form, error = parse_form(RestrictForm)  # a form without ``groups`` must not lift anything
    if form is None:
        return _render_collection(name, error=f"{error} (comma-separated groups; send it empty "
                                  "to lift the restriction)", status=422)
    try:
        groups = restriction_groups(form.groups)
    except ValueError as exc:  # the restriction is left as it was
        return _render_collection(name, error=str(exc), status=422)
    apply_restriction(document_id, groups)
    return redirect(url_for("library.collection", name=name))


@bp.post("/<name>/documents/<int:document_id>/delete")
def delete(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Delete a document, then show the collection again."""
    with _services().stack.sessions() as session:
        doc = managed_document(session, name, document_id)
        doc_name, version = doc.name, doc.version
    if not _services().ingestor.delete_document(name, document_id):
        abort(404, f"no document {document_id} in collection {name!r}")
    audit_event("document.delete", f"{name}/{doc_name}", document_id=document_id,
                version=version)
    return redirect(url_for("library.collection", name=name))
