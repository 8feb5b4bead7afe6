"""JSON API under ``/api/v1``: collections, documents, search, ask, conversations, feedback.

Ask answers as one JSON object or streamed as server-sent events; feedback rates an answer.

Thin views: the request is validated by its schema (:mod:`web.schemas`), one service call does
the work as the caller (:mod:`services`), the answer is built from the response model.
Service errors become HTTP answers in one place (:mod:`web.errors`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict

from flask import Response, current_app, request, send_file, stream_with_context

from generation.events import AnswerStream, final_answer
from retrieval.retriever import SearchFilter
from services.container import Services
from services.errors import Refused
from services.library import parse_group_names
from web.auth.guards import actor
from web.contract import API_PREFIX, SSE_EVENT, api_blueprint, content, reply
from web.schemas import (
    AnswerOut,
    AnswerPath,
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
    ConversationRename,
    ConversationsOut,
    ConversationSummary,
    DocumentDetail,
    DocumentOut,
    DocumentPath,
    DocumentsOut,
    FeedbackBody,
    FeedbackOut,
    Filters,
    ReingestOut,
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

bp = api_blueprint("api", __name__, API_PREFIX, "library",
                   "Collections, documents, passages, search, answers, conversations and "
                   "feedback on answers.")


def _services() -> Services:
    return current_app.extensions["enclave"]


@bp.get("/collections", responses={200: CollectionsOut})
def collections():  # type: ignore[no-untyped-def]
    """The collections you can read, with the documents you can see in each."""
    found = _services().library.collections(actor())
    return reply(CollectionsOut(collections=[CollectionOut(**asdict(c)) for c in found]))


@bp.post("/collections", responses={201: CollectionCreated})
def create_collection(body: CollectionCreate):  # type: ignore[no-untyped-def]
    """Create a collection (admins; grant it to groups afterwards)."""
    return reply(CollectionCreated(name=_services().library.create_collection(actor(), body.name)),
                 201)


@bp.get("/collections/<name>/documents", responses={200: DocumentsOut})
def documents(path: CollectionPath):  # type: ignore[no-untyped-def]
    """Documents of a collection you can see (failed ones, for its managers, carry their error)."""
    docs = _services().library.documents(actor(), path.name)
    return reply(DocumentsOut(collection=path.name, documents=[
        DocumentOut(**_public(asdict(d))) for d in docs]))


def _public(doc: dict[str, object]) -> dict[str, object]:
    """A document's fields without the page-only ones."""
    return {k: v for k, v in doc.items() if k not in ("collection", "restricted_to")}


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
    files = request.files.getlist("files") or request.files.getlist("file")
    if not files:
        raise Refused("no files in the request: send multipart/form-data with a 'files' field")
    services = _services()
    outcome = services.library.upload(actor(), path.name, files,
                                      parse_group_names(request.form.getlist("restrict_to")))
    job_id = outcome.job_id
    if query.wait not in ("1", "true", "yes"):
        job = services.job_runner.get(job_id) if job_id is not None else None
        return reply(UploadQueued(collection=path.name, job=job, rejected=outcome.rejected),
                     202 if job else 422)
    done = services.job_runner.wait(job_id) if job_id is not None else {"files": []}
    results = [
        {k: f[k] for k in ("name", "status", "document_id", "version", "chunks", "error")}
        for f in done["files"]
    ] + outcome.rejected
    ok = any(r["status"] != "failed" for r in results)
    return reply(UploadResults(collection=path.name, job_id=job_id, results=results),
                 201 if ok else 422)


@bp.delete("/collections/<name>/documents/<int:document_id>", responses={204: None})
def delete_document(path: CollectionDocumentPath):  # type: ignore[no-untyped-def]
    """Delete a document with its chunks and vectors (managers of the collection)."""
    _services().library.delete_document(actor(), path.name, path.document_id)
    return "", 204


@bp.post("/collections/<name>/documents/<int:document_id>/reingest",
         responses={202: ReingestOut})
def reingest_document(path: CollectionDocumentPath):  # type: ignore[no-untyped-def]
    """Ingest a document again from its stored original, as a job (managers of the collection).

    Parsed, chunked and embedded again with the current settings even when unchanged; the
    document keeps its name and restriction and gets a new version. Poll the job at
    ``GET /api/v1/jobs/<id>``. A document with no stored original is refused (400).
    """
    services = _services()
    job_id = services.library.reingest(actor(), path.name, path.document_id)
    return reply(ReingestOut(document_id=path.document_id,
                             job=services.jobs.get(actor(), job_id)), 202)


@bp.get("/documents/<int:document_id>", responses={200: DocumentDetail})
def document(path: DocumentPath):  # type: ignore[no-untyped-def]
    """One document's fields (and its restriction groups, for the collection's managers)."""
    return reply(DocumentDetail(**asdict(_services().library.document(actor(),
                                                                      path.document_id))))


@bp.get("/documents/<int:document_id>/file", responses={
    200: {"description": "The original file, as a download.",
          "content": {"application/octet-stream": {"schema": {"type": "string",
                                                              "format": "binary"}}}}})
def document_file(path: DocumentPath):  # type: ignore[no-untyped-def]
    """The uploaded original, always as a download (never rendered by the browser)."""
    file, name = _services().library.original(actor(), path.document_id)
    response = send_file(file, mimetype="application/octet-stream", as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.put("/documents/<int:document_id>/restrictions", responses={200: RestrictionsOut})
def set_restrictions(path: DocumentPath, body: RestrictionsBody):  # type: ignore[no-untyped-def]
    """Narrow a document to groups: ``{"groups": [...]}``; an empty list lifts the restriction.

    Managers of the document's collection only; takes effect on the next search. The whole
    body is validated before anything changes: a malformed body changes nothing.
    """
    groups = _services().library.set_restriction(actor(), path.document_id, body.groups)
    return reply(RestrictionsOut(document_id=path.document_id, restricted_to=groups))


@bp.get("/chunks/<int:chunk_id>", responses={200: ChunkOut})
def chunk(path: ChunkPath):  # type: ignore[no-untyped-def]
    """One passage with its document, if you may read the document (404 otherwise)."""
    return reply(ChunkOut(**asdict(_services().library.passage(actor(), path.chunk_id))))


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


def _search(query: str, scope: list[str] | None, k: int | None,
            filters: Filters | None) -> Response:
    found = _services().asking.find(actor(), query, scope, k, _filters(filters))
    return reply(SearchOut(query=query, collection=found.scope, collections=found.collections,
                           hits=[h.to_dict() for h in found.hits]))


@bp.get("/search", responses={200: SearchOut})
def search(query: SearchQuery):  # type: ignore[no-untyped-def]
    """Top-k passages of one collection, several or every one you can read (no filters).

    ``?query=&collection=&collections=&k=``: ``collections`` repeats, one collection each;
    neither ``collection`` nor ``collections``: every collection you can read. The scope is
    that of ``POST /search`` (POST for filters).
    """
    return _search(query.query, query.scope(), query.k, None)


@bp.post("/search", responses={200: SearchOut})
def search_post(body: SearchBody):  # type: ignore[no-untyped-def]
    """Top-k passages of one collection, several (``collections``) or every one you can read.

    Optionally narrowed by ``filters``. Several collections are searched as one; only
    passages of documents you may read are returned, and a collection you cannot read is a
    404, the same as an unknown one.
    """
    return _search(body.query, body.scope(), body.k, body.filters)


def _sse(events: AnswerStream) -> Iterator[str]:
    """The events as server-sent events.

    When the reader goes away (the page's Stop aborts the request) the server closes this
    generator at its next write; closing ``events`` then stops the model and records the
    answer as stopped (services/ask.py).
    """
    try:
        for event in events:
            yield f"event: {event.name}\ndata: {json.dumps(event.to_dict())}\n\n"
    except Exception as exc:  # noqa: BLE001 - report inside the stream, the status is sent
        current_app.logger.exception("ask stream failed")
        payload = {"event": "error", "message": f"The answer failed: {exc}"}
        yield f"event: error\ndata: {json.dumps(payload)}\n\n"
    finally:
        events.close()


@bp.post("/ask", responses={200: content(
    bp, "The answer (JSON), or with ``stream`` server-sent events: ``sources``, ``token``..., "
    "``done`` (the answer as in the JSON reply), with ``state`` events (``searching``, "
    "``writing``, ``checking``, ``no_evidence``) saying what happens in between.", AnswerOut,
    {"text/event-stream": SSE_EVENT})})
def ask(body: AskBody):  # type: ignore[no-untyped-def]
    """Answer a question about one collection, several, or every one you can read, with citations.

    The scope is ``collection``, ``collections`` (searched as one), or neither: every
    collection you can read (a continued conversation keeps its own scope).

    With ``"stream": true`` (or ``Accept: text/event-stream``) the reply is server-sent
    events: ``sources``, ``token``..., ``done`` (the full answer with citations), and
    ``state`` events between them: ``searching``, ``writing`` (the tokens that follow are
    the model's draft, not yet checked), ``checking`` (the draft is checked against its
    sources; ``done.draft`` says whether it was kept or replaced by quotes), ``no_evidence``
    (the documents do not answer). Closing the stream stops the model; the answer is then
    recorded with mode ``stopped``. Only the
    passages of documents you may read are retrieved. Every answer is kept as an evidence
    record (``evidence_id`` and ``conversation_id`` in the ``done`` event).
    """
    scope = body.scope()
    events = _services().asking.ask(actor(), body.question, scope, body.k,
                                    body.conversation_id, continue_scope=scope is None)
    if body.stream or request.accept_mimetypes.best == "text/event-stream":
        return Response(stream_with_context(_sse(events)), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    done = final_answer(events).to_dict()
    done.pop("event")
    return reply(AnswerOut(**done))


@bp.get("/conversations", responses={200: ConversationsOut})
def conversations():  # type: ignore[no-untyped-def]
    """Your conversations, newest first."""
    return reply(ConversationsOut(conversations=[
        ConversationSummary(**asdict(c)) for c in _services().asking.conversations(actor())]))


@bp.get("/conversations/<int:conversation_id>", responses={200: ConversationOut})
def conversation(path: ConversationPath):  # type: ignore[no-untyped-def]
    """One of your conversations with its questions and answers (404 for anyone else's)."""
    thread = _services().asking.conversation(actor(), path.conversation_id)
    return reply(ConversationOut(id=thread.id, collection=thread.collection, title=thread.title,
                                 turns=[TurnOut(**asdict(t)) for t in thread.turns],
                                 collections=thread.collections))


@bp.patch("/conversations/<int:conversation_id>", responses={200: ConversationSummary})
def rename_conversation(path: ConversationPath, body: ConversationRename):  # type: ignore[no-untyped-def]
    """Rename one of your conversations: ``{"title": ...}`` (404 for anyone else's)."""
    renamed = _services().asking.rename_conversation(actor(), path.conversation_id, body.title)
    return reply(ConversationSummary(**asdict(renamed)))


@bp.delete("/conversations/<int:conversation_id>", responses={204: None})
def delete_conversation(path: ConversationPath):  # type: ignore[no-untyped-def]
    """Delete one of your conversations from your list (404 for anyone else's).

    Its answers stay as evidence records for the audit; the conversation no longer opens.
    """
    _services().asking.delete_conversation(actor(), path.conversation_id)
    return "", 204


@bp.post("/answers/<int:evidence_id>/feedback", responses={200: FeedbackOut})
def rate_answer(path: AnswerPath, body: FeedbackBody):  # type: ignore[no-untyped-def]
    """Rate one of your answers: ``{"rating": "up"|"down", "comment"}`` (comment optional).

    ``evidence_id`` is the one the ask API returned. Rating again replaces your earlier rating
    and comment. Anyone else's answer is a 404, the same as an unknown id.
    """
    rated = _services().feedback.rate(actor(), path.evidence_id, body.rating, body.comment)
    return reply(FeedbackOut(**asdict(rated)))
