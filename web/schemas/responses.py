"""What the JSON API answers: one response model per kind of answer.

Each model lists exactly the fields its answer has (:class:`Out` forbids others, so the
OpenAPI document does too); views build their answers from these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """A response body: exactly these fields (the OpenAPI document forbids others)."""

    model_config = ConfigDict(extra="forbid")


class CollectionOut(Out):
    """A collection you can read."""

    name: str
    documents: int = Field(description="Ready documents you can see.")
    failed: int = Field(description="Failed documents you can see.")
    chunks: int
    can_manage: bool


class CollectionsOut(Out):
    """The collections you can read."""

    collections: list[CollectionOut]


class CollectionCreated(Out):
    """A new collection."""

    name: str


class ParseReportOut(Out):
    """What the parser found and dropped in a document version."""

    hidden_chars: int = Field(description="Characters a reader cannot see (white, tiny, "
                              "display:none, hidden runs, slides, sheets, rows...), dropped "
                              "at parse time; whitespace not counted.")
    hidden_by_reason: dict[str, int] = Field(
        description="The same characters by reason (e.g. hidden-run, background-colour, "
                    "hidden-slide, hidden-sheet), where the parser tells them apart.")
    pages: int | None = Field(description="Pages (PDF, images), slides or sheets.")
    ocr_pages: int = Field(description="Pages read with OCR (Tesseract).")
    unread_pages: int = Field(description="Scanned pages left unread (OCR off or not "
                              "installed).")
    tables: int = Field(description="Tables kept as tables.")


class DocumentOut(Out):
    """A document's public fields."""

    id: int
    name: str
    file_type: str
    version: int
    status: str
    error: str | None
    chunks: int
    size_bytes: int | None
    pages: int | None
    content_hash: str
    has_original: bool
    updated_at: str
    parse_report: ParseReportOut | None = Field(
        None, description="The ready version's parse report (null: failed, or ingested "
                          "before parse reports were kept).")


class DocumentDetail(DocumentOut):
    """One document, with its restriction groups for the collection's managers."""

    collection: str
    restricted_to: list[str] | None = Field(
        None, description="Groups the document is narrowed to (managers only; else null).")


class DocumentsOut(Out):
    """Documents of a collection you can see."""

    collection: str
    documents: list[DocumentOut]


class FileResult(Out):
    """The outcome of one uploaded file."""

    name: str
    status: str
    document_id: int | None
    version: int | None
    chunks: int | None
    error: str | None


class JobFileOut(FileResult):
    """One file of an ingest job."""

    id: int


class JobOut(Out):
    """An ingest job with per-file progress."""

    id: int
    collection: str
    status: str
    source: str
    cancel_requested: bool
    created_by: str | None
    restrict_to: list[str]
    created_at: str
    started_at: str | None
    finished_at: str | None
    total: int
    finished: int
    failed: int
    files: list[JobFileOut]


class JobsOut(Out):
    """Recent jobs of the collections you manage."""

    jobs: list[JobOut]


class UploadQueued(Out):
    """Upload accepted as a job (poll ``/api/v1/jobs/<id>``); refused files listed."""

    collection: str
    job: JobOut | None
    rejected: list[FileResult]


class UploadResults(Out):
    """Upload with ``?wait=1``: one result per file."""

    collection: str
    job_id: int | None
    results: list[FileResult]


class RestrictionsOut(Out):
    """A document's restriction after the change."""

    document_id: int
    restricted_to: list[str]


class ChunkOut(Out):
    """One passage of a document you may read."""

    id: int
    document_id: int
    document: str
    collection: str
    version: int
    page: int | None
    heading_path: str
    text: str


class HitOut(Out):
    """One retrieved passage."""

    chunk_id: int
    document_id: int
    document: str
    collection: str
    page: int | None
    heading_path: str
    text: str
    score: float
    char_start: int
    char_end: int
    document_version: int
    fused_score: float | None
    keyword_score: float | None
    rerank_score: float | None
    context_before: str
    context_after: str
    match_start: int | None = Field(description="Where the matched chunk starts in text (null: "
                                    "text is the matched chunk).")
    match_end: int | None


class SearchOut(Out):
    """Top-k passages."""

    query: str
    collection: str = Field(description="The scope: the collection, several joined by commas, "
                                        "or ``*`` for every collection you can read.")
    collections: list[str] = Field(description="The collections searched.")
    hits: list[HitOut]


class CitationOut(Out):
    """A numbered source the answer cites as ``[n]``."""

    n: int
    chunk_id: int
    document: str
    document_id: int
    page: int | None
    heading_path: str
    quote: str
    text: str
    score: float
    attributed_by: str
    span_start: int | None
    span_end: int | None
    char_start: int = Field(description="Where text starts in the document (span + this = "
                            "document offsets).")


class SpanOut(Out):
    """Where cited passage ``n`` supports a sentence (chunk-text offsets)."""

    n: int
    chunk_id: int
    start: int
    end: int


class SentenceOut(Out):
    """One sentence of the answer with its citations and whether they support it."""

    text: str
    citations: list[int]
    supported: bool
    support_score: float | None
    spans: list[SpanOut]
    start: int
    end: int
    claim: bool


class AnswerOut(Out):
    """An answer with citations (the ``done`` event of the stream, without ``event``)."""

    question: str
    answer: str
    citations: list[CitationOut]
    sources: list[HitOut]
    abstained: bool
    model: str
    sentences: list[SentenceOut]
    mode: str
    draft: Literal["kept", "replaced", "skipped"] | None = Field(
        None, description="What became of the model's draft, the text streamed as token "
        "events while it was written: kept (the answer is the checked draft), replaced (it "
        "was not supported by its sources; the answer quotes them instead, or says it could "
        "not be verified), skipped (no draft: the model's recent drafts over these "
        "collections were nearly all replaced, so the answer quotes at once, "
        "generation.skip_model_below); null when no model was meant to write one (no "
        "evidence, extractive mode).")
    evidence_id: int
    conversation_id: int
    search_query: str | None = Field(
        None, description="The standalone query a follow-up question was searched with "
        "(rewritten from the conversation, retrieval.followup_rewrite); null: searched as "
        "asked.")


SCOPE_LABEL = ("The conversation's scope: a collection, several joined by commas, or ``*`` "
               "for every collection you can read.")
SCOPE_NAMES = "The scope's collections (null: every collection you can read)."


class ConversationSummary(Out):
    """One of your conversations."""

    id: int
    collection: str = Field(description=SCOPE_LABEL)
    title: str
    created_at: str
    collections: list[str] | None = Field(None, description=SCOPE_NAMES)


class ConversationsOut(Out):
    """Your conversations, newest first."""

    conversations: list[ConversationSummary]


class FeedbackOut(Out):
    """Your rating of an answer, as stored (it replaces any earlier one)."""

    evidence_id: int
    rating: str
    comment: str
    rated_at: str


class TurnOut(Out):
    """A question and its answer in a conversation."""

    id: int
    at: str
    question: str
    answer: str
    abstained: bool
    mode: str
    model: str
    cited: list[dict[str, Any]]
    feedback: FeedbackOut | None = Field(
        description="Your own earlier rating of this answer; null when not rated.")
    search_query: str | None = Field(
        None, description="The standalone query this follow-up was searched with; null: "
        "searched as asked.")


class ConversationOut(Out):
    """One of your conversations with its turns."""

    id: int
    collection: str = Field(description=SCOPE_LABEL)
    title: str
    turns: list[TurnOut]
    collections: list[str] | None = Field(None, description=SCOPE_NAMES)


class RatedAnswerOut(Out):
    """A rated answer with its evidence: question, answer, the passages it cited and retrieved."""

    evidence_id: int
    rated_at: str
    rating: str
    comment: str
    username: str
    collection: str
    question: str
    answer: str
    abstained: bool
    mode: str
    model: str
    asked_at: str
    cited: list[dict[str, Any]] = Field(description="The cited passages: document, version, "
                                        "page, chunk id, citation number and quote span.")
    retrieved: list[dict[str, Any]]


class RatedAnswersOut(Out):
    """One page of rated answers, newest rating first."""

    rating: str
    total: int
    limit: int
    offset: int
    items: list[RatedAnswerOut]


class UserOut(Out):
    """A user's public fields."""

    username: str
    display_name: str
    role: str
    source: str
    disabled: bool
    groups: list[str]
    last_login_at: str | None


class UsersOut(Out):
    """All users."""

    users: list[UserOut]


class SourceOut(Out):
    """A folder synced into a collection."""

    id: int
    collection: str
    kind: str
    path: str
    interval_s: int | None
    enabled: bool
    restrictions: dict[str, list[str]]
    created_by: str | None
    created_at: str
    last_run_at: str | None
    last_job_id: int | None
    last_error: str | None


class SourcesOut(Out):
    """Every synced source."""

    sources: list[SourceOut]


class SyncOut(Out):
    """What a sync found; its changes run as job ``job_id`` (poll ``/api/v1/jobs/<id>``)."""

    source_id: int
    collection: str
    path: str
    job_id: int | None = Field(description="The sync's ingest job (null: nothing changed).")
    new: list[str]
    changed: list[str]
    deleted: list[str]
    unchanged: int
    skipped: int = Field(description="Files of types ingest does not accept.")
    restricted: list[str] = Field(description="Documents whose restriction was brought in "
                                  "line with their subfolder's.")
    error: str | None = Field(description="Why the folder could not be synced (nothing "
                              "changed).")
    busy: bool = Field(description="The previous sync's job is still running: nothing done.")


class GrantsOut(Out):
    """``{group: level}`` of a collection."""

    collection: str
    grants: dict[str, str]


class GrantOut(Out):
    """A group's grant after the change."""

    collection: str
    group: str
    level: str


# -- admin console: documents and storage ----------------------------------------------------
class CollectionDocumentsOut(Out):
    """A collection with every one of its documents, whatever their status."""

    name: str
    documents: list[DocumentOut]


class AdminDocumentsOut(Out):
    """Every collection's documents (admins)."""

    collections: list[CollectionDocumentsOut]


class CollectionStatsOut(Out):
    """One collection's share of the catalog and the indexes."""

    name: str
    documents: int = Field(description="Ready documents.")
    failed: int = Field(description="Documents whose ingest failed.")
    other: int = Field(description="Documents queued or being ingested.")
    chunks: int
    vectors: int = Field(description="Vectors in the collection's index.")
    index_structure: str = Field(description="``Flat`` or ``IVF<lists>,<encoding>``.")
    original_bytes: int = Field(description="Size of the documents as uploaded.")


class StorageStatsOut(Out):
    """Storage and index statistics (admins)."""

    catalog_backend: str = Field(description="sqlite or postgresql.")
    catalog_bytes: int | None = Field(description="The catalog database's size (null: unknown).")
    index_bytes: int = Field(description="Every vector index file.")
    uploads_bytes: int = Field(description="The stored originals.")
    keyword_index: str = Field(description="What answers keyword searches.")
    keyword_rows: int | None = Field(description="Passages in the keyword index (null: none).")
    documents: int
    chunks: int
    vectors: int
    collections: list[CollectionStatsOut]


class ReingestOut(Out):
    """A document queued to be ingested again from its stored original."""

    document_id: int
    job: JobOut
