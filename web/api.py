"""JSON API under ``/api/v1``: collections, documents, search, ask (optionally streamed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, stream_with_context
from sqlalchemy import func, select

from ingest.pipeline import validate_collection_name
from retrieval.catalog import Chunk, Document, get_collection, list_collections, list_documents
from retrieval.retriever import SearchFilter, UnknownCollectionError
from web.services import EnclaveServices
from web.uploads import queue_uploads

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _services() -> EnclaveServices:
    return current_app.extensions["enclave"]


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        data = request.form.to_dict() or request.args.to_dict()
    if not isinstance(data, dict):
        abort(400, "the request body must be a JSON object")
    return data


def _k(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        k = int(value)
    except (TypeError, ValueError):
        abort(400, "k must be an integer")
    if not 1 <= k <= 100:
        abort(400, "k must be between 1 and 100")
    return k


def document_json(doc: Document, chunks: int) -> dict[str, Any]:
    """A document's public fields."""
    return {
        "id": doc.id, "name": doc.name, "file_type": doc.file_type, "version": doc.version,
        "status": doc.status, "error": doc.error, "chunks": chunks, "size_bytes": doc.size_bytes,
        "pages": doc.num_pages, "content_hash": doc.content_hash,
        "updated_at": doc.updated_at.isoformat() + "Z",
    }


def chunk_counts(session: Any, collection_id: int) -> dict[int, int]:
    """Chunks per document of a collection."""
    rows = session.execute(
        select(Chunk.document_id, func.count(Chunk.id))
        .join(Document, Chunk.document_id == Document.id)
        .where(Document.collection_id == collection_id)
        .group_by(Chunk.document_id)
    ).all()
    return {doc_id: n for doc_id, n in rows}


@bp.get("/collections")
def collections():  # type: ignore[no-untyped-def]
    """All collections with document counts."""
    with _services().stack.sessions() as session:
        out = []
        for coll in list_collections(session):
            docs = list_documents(session, coll.id)
            out.append({
                "name": coll.name,
                "documents": sum(d.status == "ready" for d in docs),
                "failed": sum(d.status == "failed" for d in docs),
                "chunks": sum(chunk_counts(session, coll.id).values()),
            })
    return jsonify(collections=out)


@bp.post("/collections")
def create_collection():  # type: ignore[no-untyped-def]
    """Create a collection: ``{"name": ...}``."""
    name = str(_body().get("name", ""))
    try:
        validate_collection_name(name)
    except ValueError as exc:
        abort(400, str(exc))
    _services().ingestor.create_collection(name)
    return jsonify(name=name), 201


@bp.get("/collections/<name>/documents")
def documents(name: str):  # type: ignore[no-untyped-def]
    """Documents of a collection (failed ones carry their error)."""
    with _services().stack.sessions() as session:
        coll = get_collection(session, name)
        if coll is None:
            abort(404, f"no collection named {name!r}")
        counts = chunk_counts(session, coll.id)
        docs = [document_json(d, counts.get(d.id, 0)) for d in list_documents(session, coll.id)]
    return jsonify(collection=name, documents=docs)


@bp.post("/collections/<name>/documents")
def upload(name: str):  # type: ignore[no-untyped-def]
    """Upload files (multipart field ``files``) as an ingest job.

    Returns 202 with the job at once (poll ``GET /api/v1/jobs/<id>``); with ``?wait=1`` it
    waits for the job and returns one result per file (201, or 422 if every file failed).
    Unsupported types are refused up front and listed in ``rejected``.
    """
    try:
        validate_collection_name(name)
    except ValueError as exc:
        abort(400, str(exc))
    files = request.files.getlist("files") or request.files.getlist("file")
    if not files:
        abort(400, "no files in the request: send multipart/form-data with a 'files' field")
    services = _services()
    job_id, rejected = queue_uploads(
        files, name, services.jobs, services.settings.uploads_dir,
        services.settings.ingest.allowed_extensions,
    )
    if request.args.get("wait") not in ("1", "true", "yes"):
        job = services.jobs.get(job_id) if job_id is not None else None
        return jsonify(collection=name, job=job, rejected=rejected), 202 if job else 422
    done = services.jobs.wait(job_id) if job_id is not None else {"files": []}
    results = [
        {k: f[k] for k in ("name", "status", "document_id", "version", "chunks", "error")}
        for f in done["files"]
    ] + rejected
    ok = any(r["status"] != "failed" for r in results)
    return jsonify(collection=name, job_id=job_id, results=results), 201 if ok else 422


@bp.delete("/collections/<name>/documents/<int:document_id>")
def delete_document(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Delete a document with its chunks and vectors."""
    if not _services().ingestor.delete_document(name, document_id):
        abort(404, f"no document {document_id} in collection {name!r}")
    return "", 204


def _filters(raw: Any) -> SearchFilter | None:
    """Parse the ``filters`` object of a search request (400 on malformed values).

    Keys: ``document_ids``, ``documents``, ``file_types``, ``updated_after``,
    ``updated_before`` (ISO dates).
    """
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        abort(400, "filters must be an object")
    unknown = set(raw) - {"document_ids", "documents", "file_types", "updated_after",
                          "updated_before"}
    if unknown:
        abort(400, f"unknown filters: {', '.join(sorted(unknown))}")

    def strings(key: str) -> tuple[str, ...] | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            abort(400, f"filters.{key} must be a list of strings")
        return tuple(value)

    ids = raw.get("document_ids")
    if ids is not None and (not isinstance(ids, list)
                            or not all(isinstance(i, int) and not isinstance(i, bool)
                                       for i in ids)):
        abort(400, "filters.document_ids must be a list of integers")
    dates = {}
    for key in ("updated_after", "updated_before"):
        if raw.get(key) is not None:
            try:
                dates[key] = datetime.fromisoformat(str(raw[key]).replace("Z", "+00:00")
                                                    ).replace(tzinfo=None)
            except ValueError:
                abort(400, f"filters.{key} must be an ISO date or date-time")
    return SearchFilter(
        document_ids=tuple(ids) if ids is not None else None,
        document_names=strings("documents"), file_types=strings("file_types"), **dates,
    )


@bp.route("/search", methods=["GET", "POST"])
def search():  # type: ignore[no-untyped-def]
    """Top-k passages: ``{"query", "collection", "k", "filters"}``."""
    body = _body()
    query = str(body.get("query", "")).strip()
    collection = str(body.get("collection", ""))
    if not query or not collection:
        abort(400, "give 'query' and 'collection'")
    filters = _filters(body.get("filters"))
    try:
        hits = _services().stack.retriever.search(query, collection, _k(body.get("k")), filters)
    except UnknownCollectionError as exc:
        abort(404, str(exc))
    return jsonify(query=query, collection=collection, hits=[h.to_dict() for h in hits])


def _sse(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    try:
        for event in events:
            yield f"event: {event['event']}\ndata: {json.dumps(event)}\n\n"
    except Exception as exc:  # noqa: BLE001 - report inside the stream, the status is sent
        current_app.logger.exception("ask stream failed")
        payload = {"event": "error", "message": f"The answer failed: {exc}"}
        yield f"event: error\ndata: {json.dumps(payload)}\n\n"


@bp.post("/ask")
def ask():  # type: ignore[no-untyped-def]
    """Answer a question: ``{"question", "collection", "k", "stream"}``.

    With ``"stream": true`` (or ``Accept: text/event-stream``) the reply is server-sent
    events: ``sources``, ``token``..., ``done`` (the full answer with citations).
    """
    body = _body()
    question = str(body.get("question", "")).strip()
    collection = str(body.get("collection", ""))
    if not question or not collection:
        abort(400, "give 'question' and 'collection'")
    if len(question) > 2000:
        abort(400, "the question is longer than 2000 characters")
    k = _k(body.get("k"))
    answerer = _services().answerer
    stream = body.get("stream") in (True, "true", "1", 1) or (
        request.accept_mimetypes.best == "text/event-stream"
    )
    try:
        events = answerer.stream(question, collection, k)
        first = next(events)  # retrieval errors surface here, before the stream starts
    except UnknownCollectionError as exc:
        abort(404, str(exc))

    def all_events() -> Iterator[dict[str, Any]]:
        yield first
        yield from events

    if stream:
        return Response(
            stream_with_context(_sse(all_events())),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    done = [e for e in all_events() if e["event"] == "done"][-1]
    done.pop("event")
    return jsonify(done)
