"""Collections and documents pages, with the upload form."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from ingest.pipeline import validate_collection_name
from retrieval.catalog import get_collection, list_collections, list_documents
from web.api import chunk_counts, document_json
from web.uploads import queue_uploads

bp = Blueprint("library", __name__, url_prefix="/collections")


def _services():  # type: ignore[no-untyped-def]
    return current_app.extensions["enclave"]


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """All collections and a form to create one."""
    with _services().stack.sessions() as session:
        rows = [(c.name, len(list_documents(session, c.id))) for c in list_collections(session)]
    return render_template("collections.html", collections=rows, error=None)


@bp.post("/")
def create():  # type: ignore[no-untyped-def]
    """Create a collection from the form."""
    name = request.form.get("name", "").strip()
    try:
        validate_collection_name(name)
    except ValueError as exc:
        with _services().stack.sessions() as session:
            rows = [(c.name, len(list_documents(session, c.id)))
                    for c in list_collections(session)]
        return render_template("collections.html", collections=rows, error=str(exc)), 400
    _services().ingestor.create_collection(name)
    return redirect(url_for("library.collection", name=name))


def _render_collection(name: str, rejected=None, status: int = 200):  # type: ignore[no-untyped-def]
    services = _services()
    with services.stack.sessions() as session:
        coll = get_collection(session, name)
        if coll is None:
            abort(404, f"no collection named {name!r}")
        counts = chunk_counts(session, coll.id)
        docs = [document_json(d, counts.get(d.id, 0)) for d in list_documents(session, coll.id)]
    accept = ",".join(services.settings.ingest.allowed_extensions)
    return render_template(
        "collection.html", name=name, documents=docs, rejected=rejected, accept=accept,
        max_mb=services.settings.web.max_upload_mb, jobs=services.jobs.list(name, limit=10),
    ), status


@bp.get("/<name>")
def collection(name: str):  # type: ignore[no-untyped-def]
    """Documents of a collection and the upload form."""
    return _render_collection(name)


@bp.post("/<name>/upload")
def upload(name: str):  # type: ignore[no-untyped-def]
    """Queue the uploaded files as a job; the page then shows its live progress."""
    try:
        validate_collection_name(name)
    except ValueError as exc:
        abort(400, str(exc))
    files = [f for f in request.files.getlist("files") if f.filename]
    if not files:
        abort(400, "Choose at least one file to upload.")
    services = _services()
    services.ingestor.create_collection(name)
    job_id, rejected = queue_uploads(
        files, name, services.jobs, services.settings.uploads_dir,
        services.settings.ingest.allowed_extensions,
    )
    if rejected:
        return _render_collection(name, rejected=rejected, status=200 if job_id else 422)
    return redirect(url_for("library.collection", name=name, job=job_id))


@bp.post("/<name>/documents/<int:document_id>/delete")
def delete(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Delete a document, then show the collection again."""
    if not _services().ingestor.delete_document(name, document_id):
        abort(404, f"no document {document_id} in collection {name!r}")
    return redirect(url_for("library.collection", name=name))
