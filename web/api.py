"""JSON API under ``/api/v1``: collections, documents, search, ask (optionally streamed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, stream_with_context
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select

from ingest.pipeline import validate_collection_name
from retrieval.acl import allowed_document_ids, document_restrictions, get_group, readable_collection_ids
from retrieval.catalog import Chunk, Collection, Document, get_collection
from retrieval.retriever import SearchFilter, UnknownCollectionError
from web.auth import audit
from web.auth.guards import (
    account,
    admin_required,
    can_manage,
    managed_collection,
    managed_document,
    readable_chunk,
    readable_collection,
    readable_document,
    visible_documents,
)
from web.auth.models import AnswerRecord, Conversation
from web.auth.session import client_ip
from web.schemas import (
    AskBody,
    CollectionCreate,
    Filters,
    GroupName,
    RestrictionsBody,
    SearchBody,
    SearchQuery,
)
from web.services import EnclaveServices
from web.uploads import display_name, queue_uploads
from web.validation import field_error, parse_body, parse_query

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _services() -> EnclaveServices:
    return current_app.extensions["enclave"]


def _k(k: int | None) -> int | None:
    """``k`` within the configured maximum (``web.max_k``)."""
    limit = _services().settings.web.max_k
    if k is not None and k > limit:
        field_error("k", f"must be at most {limit} (web.max_k)", "less_than_equal")
    return k


def document_json(doc: Document, chunks: int) -> dict[str, Any]:
    """A document's public fields."""
    return {
        "id": doc.id, "name": doc.name, "file_type": doc.file_type, "version": doc.version,
        "status": doc.status, "error": doc.error, "chunks": chunks, "size_bytes": doc.size_bytes,
        "pages": doc.num_pages, "content_hash": doc.content_hash,
        "has_original": bool(doc.storage_name),
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
    """The collections you can read, with the documents you can see in each."""
    user = account()
    with _services().stack.sessions() as session:
        ids = readable_collection_ids(session, user.principal)
        out = []
        for coll in session.scalars(select(Collection).where(Collection.id.in_(ids))
                                    .order_by(Collection.name)):
            docs = visible_documents(session, coll)
            counts = chunk_counts(session, coll.id)
            out.append({
                "name": coll.name,
                "documents": sum(d.status == "ready" for d in docs),
                "failed": sum(d.status == "failed" for d in docs),
                "chunks": sum(counts.get(d.id, 0) for d in docs),
                "can_manage": can_manage(session, coll.id, user),
            })
    return jsonify(collections=out)


@bp.post("/collections")
@admin_required
def create_collection():  # type: ignore[no-untyped-def]
    """Create a collection: ``{"name": ...}`` (admins; grant it to groups afterwards)."""
    name = parse_body(CollectionCreate).name
    _services().ingestor.create_collection(name)
    audit_event("collection.create", name)
    return jsonify(name=name), 201


def audit_event(action: str, target: str, outcome: str = "ok", **detail: Any) -> None:
    """Append an audit event for the current user in its own transaction."""
    with _services().stack.sessions() as session:
        audit.record(session, account().username, action, target, detail=detail,
                     outcome=outcome, ip=client_ip())
        session.commit()


@bp.get("/collections/<name>/documents")
def documents(name: str):  # type: ignore[no-untyped-def]
    """Documents of a collection you can see (failed ones, for its managers, carry their error)."""
    with _services().stack.sessions() as session:
        coll = readable_collection(session, name)
        counts = chunk_counts(session, coll.id)
        docs = [document_json(d, counts.get(d.id, 0)) for d in visible_documents(session, coll)]
    return jsonify(collection=name, documents=docs)


_GROUP_NAMES = TypeAdapter(list[GroupName])


class UnknownGroupsError(ValueError):
    """Restriction groups that do not exist."""


def restriction_groups(raw: Any) -> tuple[str, ...]:
    """Group names from a form's ``restrict_to``/``groups`` value (comma-separated or a list).

    Raises :class:`UnknownGroupsError` (a ValueError) when a group does not exist: a typo
    must not make a document unreadable to everyone; ValueError for malformed values.
    """
    if raw in (None, "", []):
        return ()
    if isinstance(raw, str):
        names = [n.strip() for n in raw.split(",")]
    elif isinstance(raw, list | tuple) and all(isinstance(n, str) for n in raw):
        names = [m.strip() for n in raw for m in n.split(",")]
    else:
        raise ValueError("restrict_to must be a list of group names")
    names = [n for n in names if n]
    try:
        _GROUP_NAMES.validate_python(names)  # the API's rule for a group name
    except ValidationError:
        raise ValueError("a group name has a NUL byte or is longer than 200 characters") from None
    return existing_groups(names)


def existing_groups(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``names`` (sorted, unique) if every group exists, else :class:`UnknownGroupsError`."""
    names = sorted(set(names))
    with _services().stack.sessions() as session:
        missing = [n for n in names if get_group(session, n) is None]
    if missing:
        raise UnknownGroupsError(f"unknown groups: {', '.join(missing)}")
    return tuple(names)


def prepare_upload(name: str) -> frozenset[str]:
    """Check the caller may upload to ``name``; returns the names it must not replace.

    Managers of an existing collection may; admins may also upload to a new one (created).
    The names returned are the collection's documents the caller cannot read.
    """
    try:
        validate_collection_name(name)
    except ValueError as exc:
        abort(400, str(exc))
    with _services().stack.sessions() as session:
        coll = get_collection(session, name)
        if coll is None and account().is_admin:
            return frozenset()
        coll = managed_collection(session, name)
        visible = {d.id for d in visible_documents(session, coll)}
        return frozenset(session.scalars(select(Document.name).where(
            Document.collection_id == coll.id, Document.id.not_in(visible))))


def queue_upload_job(
    name: str, files: list[Any], restrict: tuple[str, ...], hidden: frozenset[str]
) -> tuple[int | None, list[dict[str, object]]]:
    """Store the files, queue them as one job for the caller, and audit the upload.

    ``hidden`` (from :func:`prepare_upload`) are names the caller may not replace.
    """
    services = _services()
    job_id, rejected = queue_uploads(
        files, name, services.jobs, services.settings.uploads_dir,
        services.settings.ingest.allowed_extensions, restrict_to=restrict,
        created_by=account().username, hidden_names=hidden,
    )
    audit_event("document.upload", name, job_id=job_id, restrict_to=list(restrict),
                files=[display_name(f.filename) for f in files],
                rejected=[r["name"] for r in rejected])
    return job_id, rejected


@bp.post("/collections/<name>/documents")
def upload(name: str):  # type: ignore[no-untyped-def]
    """Upload files (multipart field ``files``) as an ingest job.

    Returns 202 with the job at once (poll ``GET /api/v1/jobs/<id>``); with ``?wait=1`` it
    waits for the job and returns one result per file (201, or 422 if every file failed).
    Unsupported types are refused up front and listed in ``rejected``.
    """
    hidden = prepare_upload(name)
    files = request.files.getlist("files") or request.files.getlist("file")
    if not files:
        abort(400, "no files in the request: send multipart/form-data with a 'files' field")
    services = _services()
    try:
        restrict = restriction_groups(request.form.getlist("restrict_to"))
    except ValueError as exc:
        field_error("restrict_to", str(exc))
    job_id, rejected = queue_upload_job(name, files, restrict, hidden)
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
    """Delete a document with its chunks and vectors (managers of the collection)."""
    with _services().stack.sessions() as session:
        doc = managed_document(session, name, document_id)
        doc_name, version = doc.name, doc.version
    if not _services().ingestor.delete_document(name, document_id):
        abort(404, f"no document {document_id} in collection {name!r}")
    audit_event("document.delete", f"{name}/{doc_name}", document_id=document_id,
                version=version)
    return "", 204


@bp.get("/documents/<int:document_id>")
def document(document_id: int):  # type: ignore[no-untyped-def]
    """One document's fields (and its restriction groups, for the collection's managers)."""
    with _services().stack.sessions() as session:
        doc = readable_document(session, document_id)
        chunks = session.scalar(select(func.count(Chunk.id)).where(Chunk.document_id == doc.id))
        out = document_json(doc, chunks or 0)
        out["collection"] = doc.collection.name
        if can_manage(session, doc.collection_id, account()):
            out["restricted_to"] = sorted(document_restrictions(session, doc.id))
    return jsonify(out)


@bp.get("/documents/<int:document_id>/file")
def document_file(document_id: int):  # type: ignore[no-untyped-def]
    """The uploaded original, always as a download (never rendered by the browser)."""
    from flask import send_file

    with _services().stack.sessions() as session:
        doc = readable_document(session, document_id)
        name, storage = doc.name, doc.storage_name
    root = _services().settings.uploads_dir.resolve()
    path = (root / storage).resolve() if storage else None
    if path is None or path.parent != root or not path.is_file():
        abort(404, f"document {document_id} has no stored original (ingested from the command line)")
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def apply_restriction(document_id: int, groups: tuple[str, ...]) -> str:
    """Set a readable document's restriction groups (managers only; audited).

    Returns the collection name.
    """
    from retrieval.acl import restrict_document, unrestrict_document

    with _services().stack.sessions() as session:
        doc = readable_document(session, document_id)
        coll_name = doc.collection.name
        managed_collection(session, coll_name)
        before = sorted(document_restrictions(session, doc.id))
        unrestrict_document(session, doc.id)
        if groups:
            restrict_document(session, doc.id, groups)
        audit.record(session, account().username, "document.restrict",
                     f"{coll_name}/{doc.name}", ip=client_ip(),
                     detail={"document_id": doc.id, "before": before, "after": list(groups)})
        session.commit()
    return coll_name


@bp.put("/documents/<int:document_id>/restrictions")
def set_restrictions(document_id: int):  # type: ignore[no-untyped-def]
    """Narrow a document to groups: ``{"groups": [...]}``; an empty list lifts the restriction.

    Managers of the document's collection only; takes effect on the next search.
    """
    body = parse_body(RestrictionsBody)  # the whole body is valid, or nothing changes
    try:
        groups = existing_groups([g.strip() for g in body.groups])
    except UnknownGroupsError as exc:
        field_error("groups", str(exc))
    apply_restriction(document_id, groups)
    return jsonify(document_id=document_id, restricted_to=list(groups))


@bp.get("/chunks/<int:chunk_id>")
def chunk(chunk_id: int):  # type: ignore[no-untyped-def]
    """One passage with its document, if you may read the document (404 otherwise)."""
    with _services().stack.sessions() as session:
        row, doc = readable_chunk(session, chunk_id)
        return jsonify(id=row.id, document_id=doc.id, document=doc.name,
                       collection=doc.collection.name, version=doc.version, page=row.page,
                       heading_path=row.heading_path, text=row.text)


def _filters(raw: Filters | None) -> SearchFilter | None:
    """The search filter of a validated ``filters`` object."""
    if raw is None:
        return None
    return SearchFilter(
        document_ids=tuple(raw.document_ids) if raw.document_ids is not None else None,
        document_names=tuple(raw.documents) if raw.documents is not None else None,
        file_types=tuple(raw.file_types) if raw.file_types is not None else None,
        updated_after=raw.updated_after, updated_before=raw.updated_before,
    )


@bp.route("/search", methods=["GET", "POST"])
def search():  # type: ignore[no-untyped-def]
    """Top-k passages: ``{"query", "collection", "k", "filters"}`` (GET: no filters)."""
    if request.method == "GET":
        q = parse_query(SearchQuery)
        query, collection, k, filters = q.query, q.collection, q.k, None
    else:
        body = parse_body(SearchBody)
        query, collection, k, filters = body.query, body.collection, body.k, body.filters
    k = _k(k)
    with _services().stack.sessions() as session:
        readable_collection(session, collection)
    try:
        hits = _services().stack.retriever.search(query, collection, k, _filters(filters),
                                                  principal=account().principal)
    except UnknownCollectionError:
        abort(404, f"no collection named {collection!r}")
    return jsonify(query=query, collection=collection, hits=[h.to_dict() for h in hits])


def _sse(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    try:
        for event in events:
            yield f"event: {event['event']}\ndata: {json.dumps(event)}\n\n"
    except Exception as exc:  # noqa: BLE001 - report inside the stream, the status is sent
        current_app.logger.exception("ask stream failed")
        payload = {"event": "error", "message": f"The answer failed: {exc}"}
        yield f"event: error\ndata: {json.dumps(payload)}\n\n"


def _conversation(session: Any, conv_id: int | None, collection: str, question: str) -> Conversation:
    """The caller's conversation ``conv_id`` (404 for anyone else's), or a new one."""
    user = account()
    if conv_id is not None:
        conv = session.get(Conversation, conv_id)
        if conv is None or conv.user_id != user.id:
            abort(404, f"no conversation {conv_id}")
        if conv.collection != collection:
            abort(400, f"conversation {conv_id} is about the collection {conv.collection!r}")
        return conv
    conv = Conversation(user_id=user.id, collection=collection, title=question[:200])
    session.add(conv)
    session.flush()
    return conv


@bp.post("/ask")
def ask():  # type: ignore[no-untyped-def]
    """Answer a question: ``{"question", "collection", "k", "stream", "conversation_id"}``.

    With ``"stream": true`` (or ``Accept: text/event-stream``) the reply is server-sent
    events: ``sources``, ``token``..., ``done`` (the full answer with citations). Only the
    passages of documents you may read are retrieved. Every answer is kept as an evidence
    record (``evidence_id`` and ``conversation_id`` in the ``done`` event).
    """
    body = parse_body(AskBody)
    question, collection, k = body.question, body.collection, _k(body.k)
    services = _services()
    user = account()
    with services.stack.sessions() as session:
        readable_collection(session, collection)
        conv_id = _conversation(session, body.conversation_id, collection, question).id
        session.commit()
    answerer = services.answerer
    stream = body.stream or (
        request.accept_mimetypes.best == "text/event-stream"
    )
    try:
        events = answerer.stream(question, collection, k, principal=user.principal)
        first = next(events)  # retrieval errors surface here, before the stream starts
    except UnknownCollectionError:
        abort(404, f"no collection named {collection!r}")

    def all_events() -> Iterator[dict[str, Any]]:
        sources: list[dict[str, Any]] = first.get("sources", [])
        yield first
        for event in events:
            if event["event"] == "done":
                event = {**event, **_record(event, sources)}
            yield event

    def _record(done: dict[str, Any], sources: list[dict[str, Any]]) -> dict[str, Any]:
        with services.stack.sessions() as session:
            conv = session.get(Conversation, conv_id)
            rec = audit.record_answer(
                session, user_id=user.id, username=user.username, conversation=conv,
                question=question, answer=done, hits=sources, model_name=answerer.model_name,
                model_sha256=audit.file_sha256(answerer.model_path),
            )
            session.commit()
            return {"evidence_id": rec.id, "conversation_id": conv_id}

    if stream:
        return Response(
            stream_with_context(_sse(all_events())),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    done = [e for e in all_events() if e["event"] == "done"][-1]
    done.pop("event")
    return jsonify(done)


HIDDEN_ANSWER = "(hidden: this answer cites a document you can no longer read)"


def _turn_json(rec: AnswerRecord) -> dict[str, Any]:
    return {"id": rec.id, "at": rec.at.isoformat() + "Z", "question": rec.question,
            "answer": rec.answer, "abstained": rec.abstained, "mode": rec.mode,
            "model": rec.model_name, "cited": json.loads(rec.cited)}


@bp.get("/conversations")
def conversations():  # type: ignore[no-untyped-def]
    """Your conversations, newest first."""
    user = account()
    with _services().stack.sessions() as session:
        rows = session.scalars(select(Conversation).where(Conversation.user_id == user.id)
                               .order_by(Conversation.id.desc()).limit(200))
        out = [{"id": c.id, "collection": c.collection, "title": c.title,
                "created_at": c.created_at.isoformat() + "Z"} for c in rows]
    return jsonify(conversations=out)


@bp.get("/conversations/<int:conversation_id>")
def conversation(conversation_id: int):  # type: ignore[no-untyped-def]
    """One of your conversations with its questions and answers (404 for anyone else's)."""
    user = account()
    with _services().stack.sessions() as session:
        conv = session.get(Conversation, conversation_id)
        if conv is None or conv.user_id != user.id:
            abort(404, f"no conversation {conversation_id}")
        turns = session.scalars(select(AnswerRecord)
                                .where(AnswerRecord.conversation_id == conv.id)
                                .order_by(AnswerRecord.id))
        coll = get_collection(session, conv.collection)
        allowed = allowed_document_ids(session, coll.id, user.principal) if coll else set()
        out = []
        for turn in turns:
            item = _turn_json(turn)
            if any(c.get("document_id") not in allowed for c in item["cited"]):
                # Access was revoked since: the history must not keep showing it.
                item.update(answer=HIDDEN_ANSWER, cited=[])
            out.append(item)
        return jsonify(id=conv.id, collection=conv.collection, title=conv.title, turns=out)
