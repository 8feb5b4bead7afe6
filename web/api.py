"""JSON API under ``/api/v1``: collections, documents, search, ask (optionally streamed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Response, abort, current_app, request, stream_with_context
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
from web.contract import API_PREFIX, api_blueprint, content, reply
from web.schemas import (
    AnswerOut,
    AskBody,
    ChunkOut,
    ChunkPath,
    CollectionCreate,
    CollectionCreated,
    CollectionDocumentPath,
    CollectionOut,
    CollectionPath,
    CollectionsOut,
    ConversationOut,
    ConversationPath,
    ConversationsOut,
    ConversationSummary,
    DocumentDetail,
    DocumentOut,
    DocumentPath,
    DocumentsOut,
    Filters,
    GroupName,
    RestrictionsBody,
    RestrictionsOut,
    SearchBody,
    SearchOut,
    SearchQuery,
    TurnOut,
    UploadQuery,
    UploadQueued,
    UploadResults,
)
from web.services import EnclaveServices
from web.uploads import display_name, queue_uploads
from web.validation import field_error

bp = api_blueprint("api", __name__, API_PREFIX, "library",
                   "Collections, documents, passages, search, answers and conversations.")


def _services() -> EnclaveServices:
    return current_app.extensions["enclave"]


def _k(k: int | None) -> int | None:
    """``k`` within the configured maximum (``web.max_k``)."""
    limit = _services().settings.web.max_k
    if k is not None and k > limit:
        field_error("k", f"must be at most {limit} (web.max_k)", "less_than_equal")
    return k


def document_json(doc: Document, chunks: int) -> dict[str, Any]:
    """A document's public fields (:class:`DocumentOut`)."""
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


@bp.get("/collections", responses={200: CollectionsOut})
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
            out.append(CollectionOut(
                name=coll.name,
                documents=sum(d.status == "ready" for d in docs),
                failed=sum(d.status == "failed" for d in docs),
                chunks=sum(counts.get(d.id, 0) for d in docs),
                can_manage=can_manage(session, coll.id, user),
            ))
    return reply(CollectionsOut(collections=out))


@bp.post("/collections", responses={201: CollectionCreated})
@admin_required
def create_collection(body: CollectionCreate):  # type: ignore[no-untyped-def]
    """Create a collection (admins; grant it to groups afterwards)."""
    _services().ingestor.create_collection(body.name)
    audit_event("collection.create", body.name)
    return reply(CollectionCreated(name=body.name), 201)


def audit_event(action: str, target: str, outcome: str = "ok", **detail: Any) -> None:
    """Append an audit event for the current user in its own transaction."""
    with _services().stack.sessions() as session:
        audit.record(session, account().username, action, target, detail=detail,
                     outcome=outcome, ip=client_ip())
        session.commit()


@bp.get("/collections/<name>/documents", responses={200: DocumentsOut})
def documents(path: CollectionPath):  # type: ignore[no-untyped-def]
    """Documents of a collection you can see (failed ones, for its managers, carry their error)."""
    with _services().stack.sessions() as session:
        coll = readable_collection(session, path.name)
        counts = chunk_counts(session, coll.id)
        docs = [DocumentOut(**document_json(d, counts.get(d.id, 0)))
                for d in visible_documents(session, coll)]
    return reply(DocumentsOut(collection=path.name, documents=docs))


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


_UPLOAD_FORM = {
    "required": True,
    "content": {"multipart/form-data": {
        "schema": {
            "type": "object", "required": ["files"],
            "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                          "description": "The files (PDF, DOCX, PPTX, XLSX, HTML, MD, TXT, EML)."},
                "restrict_to": {"type": "array", "items": {"type": "string"},
                                "description": "Groups every uploaded document is narrowed to."},
            },
        },
    }},
}


@bp.post("/collections/<name>/documents", openapi_extensions={"requestBody": _UPLOAD_FORM},
         responses={
             201: UploadResults, 202: UploadQueued,
             422: content(bp, "Every file was refused or failed (or a field is not valid).",
                          others={"application/json": {"anyOf": [
                              {"$ref": "#/components/schemas/UploadQueued"},
                              {"$ref": "#/components/schemas/UploadResults"},
                              {"$ref": "#/components/schemas/ErrorOut"}]}}),
         })
def upload(path: CollectionPath, query: UploadQuery):  # type: ignore[no-untyped-def]
    """Upload files (multipart field ``files``) as an ingest job.

    Returns 202 with the job at once (poll ``GET /api/v1/jobs/<id>``); with ``?wait=1`` it
    waits for the job and returns one result per file (201, or 422 if every file failed).
    Unsupported types are refused up front and listed in ``rejected``.
    """
    name = path.name
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
    if query.wait not in ("1", "true", "yes"):
        job = services.jobs.get(job_id) if job_id is not None else None
        return reply(UploadQueued(collection=name, job=job, rejected=rejected),
                     202 if job else 422)
    done = services.jobs.wait(job_id) if job_id is not None else {"files": []}
    results = [
        {k: f[k] for k in ("name", "status", "document_id", "version", "chunks", "error")}
        for f in done["files"]
    ] + rejected
    ok = any(r["status"] != "failed" for r in results)
    return reply(UploadResults(collection=name, job_id=job_id, results=results),
                 201 if ok else 422)


@bp.delete("/collections/<name>/documents/<int:document_id>",
           responses={204: None})
def delete_document(path: CollectionDocumentPath):  # type: ignore[no-untyped-def]
    """Delete a document with its chunks and vectors (managers of the collection)."""
    name, document_id = path.name, path.document_id
    with _services().stack.sessions() as session:
        doc = managed_document(session, name, document_id)
        doc_name, version = doc.name, doc.version
    if not _services().ingestor.delete_document(name, document_id):
        abort(404, f"no document {document_id} in collection {name!r}")
    audit_event("document.delete", f"{name}/{doc_name}", document_id=document_id,
                version=version)
    return "", 204


@bp.get("/documents/<int:document_id>", responses={200: DocumentDetail})
def document(path: DocumentPath):  # type: ignore[no-untyped-def]
    """One document's fields (and its restriction groups, for the collection's managers)."""
    with _services().stack.sessions() as session:
        doc = readable_document(session, path.document_id)
        chunks = session.scalar(select(func.count(Chunk.id)).where(Chunk.document_id == doc.id))
        restricted = (sorted(document_restrictions(session, doc.id))
                      if can_manage(session, doc.collection_id, account()) else None)
        out = DocumentDetail(**document_json(doc, chunks or 0), collection=doc.collection.name,
                             restricted_to=restricted)
    return reply(out)


@bp.get("/documents/<int:document_id>/file", responses={
    200: {"description": "The original file, as a download.",
          "content": {"application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}}}})
def document_file(path: DocumentPath):  # type: ignore[no-untyped-def]
    """The uploaded original, always as a download (never rendered by the browser)."""
    from flask import send_file

    document_id = path.document_id
    with _services().stack.sessions() as session:
        doc = readable_document(session, document_id)
        name, storage = doc.name, doc.storage_name
    root = _services().settings.uploads_dir.resolve()
    file = (root / storage).resolve() if storage else None
    if file is None or file.parent != root or not file.is_file():
        abort(404, f"document {document_id} has no stored original (ingested from the command line)")
    response = send_file(file, mimetype="application/octet-stream", as_attachment=True,
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


@bp.put("/documents/<int:document_id>/restrictions", responses={200: RestrictionsOut})
def set_restrictions(path: DocumentPath, body: RestrictionsBody):  # type: ignore[no-untyped-def]
    """Narrow a document to groups: ``{"groups": [...]}``; an empty list lifts the restriction.

    Managers of the document's collection only; takes effect on the next search. The whole
    body is validated before anything changes: a malformed body changes nothing.
    """
    try:
        groups = existing_groups([g.strip() for g in body.groups])
    except UnknownGroupsError as exc:
        field_error("groups", str(exc))
    apply_restriction(path.document_id, groups)
    return reply(RestrictionsOut(document_id=path.document_id, restricted_to=list(groups)))


@bp.get("/chunks/<int:chunk_id>", responses={200: ChunkOut})
def chunk(path: ChunkPath):  # type: ignore[no-untyped-def]
    """One passage with its document, if you may read the document (404 otherwise)."""
    with _services().stack.sessions() as session:
        row, doc = readable_chunk(session, path.chunk_id)
        return reply(ChunkOut(id=row.id, document_id=doc.id, document=doc.name,
                              collection=doc.collection.name, version=doc.version,
                              page=row.page, heading_path=row.heading_path, text=row.text))


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


def _search(query: str, collection: str, k: int | None, filters: Filters | None) -> Response:
    k = _k(k)
    with _services().stack.sessions() as session:
        readable_collection(session, collection)
    try:
        hits = _services().stack.retriever.search(query, collection, k, _filters(filters),
                                                  principal=account().principal)
    except UnknownCollectionError:
        abort(404, f"no collection named {collection!r}")
    return reply(SearchOut(query=query, collection=collection, hits=[h.to_dict() for h in hits]))


@bp.get("/search", responses={200: SearchOut})
def search(query: SearchQuery):  # type: ignore[no-untyped-def]
    """Top-k passages of a collection (``?query=&collection=&k=``; POST for filters)."""
    return _search(query.query, query.collection, query.k, None)


@bp.post("/search", responses={200: SearchOut})
def search_post(body: SearchBody):  # type: ignore[no-untyped-def]
    """Top-k passages of a collection, optionally narrowed by ``filters``."""
    return _search(body.query, body.collection, body.k, body.filters)


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


@bp.post("/ask", responses={200: content(
    bp, "The answer (JSON), or with ``stream`` server-sent events: ``sources``, ``token``..., "
    "``done`` (the answer as in the JSON reply).", AnswerOut,
    {"text/event-stream": {"type": "string"}})})
def ask(body: AskBody):  # type: ignore[no-untyped-def]
    """Answer a question about a collection, with citations.

    With ``"stream": true`` (or ``Accept: text/event-stream``) the reply is server-sent
    events: ``sources``, ``token``..., ``done`` (the full answer with citations). Only the
    passages of documents you may read are retrieved. Every answer is kept as an evidence
    record (``evidence_id`` and ``conversation_id`` in the ``done`` event).
    """
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
    return reply(AnswerOut(**done))


HIDDEN_ANSWER = "(hidden: this answer cites a document you can no longer read)"


def _turn(rec: AnswerRecord) -> TurnOut:
    return TurnOut(id=rec.id, at=rec.at.isoformat() + "Z", question=rec.question,
                   answer=rec.answer, abstained=rec.abstained, mode=rec.mode,
                   model=rec.model_name, cited=json.loads(rec.cited))


@bp.get("/conversations", responses={200: ConversationsOut})
def conversations():  # type: ignore[no-untyped-def]
    """Your conversations, newest first."""
    user = account()
    with _services().stack.sessions() as session:
        rows = session.scalars(select(Conversation).where(Conversation.user_id == user.id)
                               .order_by(Conversation.id.desc()).limit(200))
        out = [ConversationSummary(id=c.id, collection=c.collection, title=c.title,
                                   created_at=c.created_at.isoformat() + "Z") for c in rows]
    return reply(ConversationsOut(conversations=out))


@bp.get("/conversations/<int:conversation_id>", responses={200: ConversationOut})
def conversation(path: ConversationPath):  # type: ignore[no-untyped-def]
    """One of your conversations with its questions and answers (404 for anyone else's)."""
    user = account()
    conversation_id = path.conversation_id
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
        for row in turns:
            turn = _turn(row)
            if any(c.get("document_id") not in allowed for c in turn.cited):
                # Access was revoked since: the history must not keep showing it.
                turn = turn.model_copy(update={"answer": HIDDEN_ANSWER, "cited": []})
            out.append(turn)
        return reply(ConversationOut(id=conv.id, collection=conv.collection, title=conv.title,
                                     turns=out))
