"""Typed request and response schemas of the JSON API (``/api/v1``) and the pages' forms.

Views receive validated models (flask-openapi3 checks them before the view runs, see
:mod:`web.contract`), so a malformed request changes nothing. Bodies forbid unknown fields
and never coerce types (``"k": "5"`` or a list where a string belongs is a 422, not a
guess); ids are positive and fit a signed 64-bit integer; strings have length limits and
never carry NUL bytes. Response models list exactly the fields each answer has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ingest.pipeline import COLLECTION_NAME_RE

MAX_ID = 2**63 - 1  # SQLite's and PostgreSQL's bigint
MAX_K = 100  # ceiling of ``k``; ``web.max_k`` may lower it
NO_NUL = r"^[^\x00]*$"

# -- field types -----------------------------------------------------------------------------
def _integral(value: Any) -> Any:
    """JSON has one number type: ``5.0`` is the integer 5 (as JSON Schema says); ``5.5`` is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID, description="A positive 64-bit id."),
               BeforeValidator(_integral)]
K = Annotated[StrictInt, Field(ge=1, le=MAX_K, description="Passages to return (1-100; at most "
                                                          "web.max_k)."), BeforeValidator(_integral)]


def _text(max_length: int, min_length: int = 0, description: str = "") -> Any:
    return Annotated[StrictStr, Field(min_length=min_length, max_length=max_length,
                                      pattern=NO_NUL, description=description or None)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only spaces")
    return value.strip()


CollectionName = Annotated[StrictStr, Field(pattern=COLLECTION_NAME_RE.pattern,
                                            description="1-64 letters, digits, '-', '_' or '.'.")]
GroupName = Annotated[StrictStr, Field(min_length=1, max_length=200,
                                       pattern=r"^[^\x00,]*[^\x00,\s][^\x00,]*$",
                                       description="A group name (no commas).")]
UserName = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x20\x7f]+$",
                                      description="A user name (no spaces or control characters).")]
Question = Annotated[_text(2000, 1, "The question (at most 2,000 characters)."),
                     AfterValidator(_not_blank)]
Query = Annotated[_text(2000, 1, "What to search for (at most 2,000 characters)."),
                  AfterValidator(_not_blank)]
Role = Literal["admin", "curator", "reader"]
Level = Literal["read", "manage"]


class Body(BaseModel):
    """A JSON request body: an object with known fields only."""

    model_config = ConfigDict(extra="forbid")


class Params(BaseModel):
    """A query string or path: values arrive as text and are converted by type."""

    model_config = ConfigDict(extra="ignore")


# -- errors -------------------------------------------------------------------------------------
class FieldError(BaseModel):
    """One offending field of a request."""

    field: str = Field(description="Dotted path of the field ('' for the body itself).")
    message: str = Field(description="Why the value was refused.")
    type: str = Field(description="Machine-readable kind of error.")


class ErrorOut(BaseModel):
    """The one error envelope of every 4xx/5xx answer."""

    error: str = Field(description="A message for people.")
    status: int
    fields: list[FieldError] | None = Field(None, description="Each offending field (422).")


# -- request bodies and queries ------------------------------------------------------------------
class CollectionCreate(Body):
    """Create a collection."""

    name: CollectionName


class RestrictionsBody(Body):
    """Who may read a document: ``groups`` (required); an empty list lifts the restriction."""

    groups: list[GroupName] = Field(max_length=100)


class Filters(Body):
    """Narrow a search to some documents."""

    document_ids: list[Id] | None = Field(None, max_length=1000)
    documents: list[_text(500, 1)] | None = Field(None, max_length=1000)  # type: ignore[valid-type]
    file_types: list[_text(20, 1)] | None = Field(None, max_length=50)  # type: ignore[valid-type]
    updated_after: datetime | None = Field(None, description="ISO date or date-time.")
    updated_before: datetime | None = Field(None, description="ISO date or date-time.")

    @field_validator("updated_after", "updated_before", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO date or date-time string")
        return value

    @field_validator("updated_after", "updated_before")
    @classmethod
    def _naive_utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value


class SearchBody(Body):
    """Top-k passages of a collection."""

    query: Query
    collection: CollectionName
    k: K | None = None
    filters: Filters | None = None


class SearchQuery(Params):
    """``GET /search`` (no filters: use POST for those)."""

    query: Query
    collection: CollectionName
    k: Annotated[int, Field(ge=1, le=MAX_K)] | SkipJsonSchema[None] = None


class AskBody(Body):
    """Ask a question about a collection."""

    question: Question
    collection: CollectionName
    k: K | None = None
    stream: StrictBool = Field(False, description="Reply as server-sent events.")
    conversation_id: Id | None = Field(None, description="Continue one of your conversations.")


class UserCreate(Body):
    """A new local account."""

    username: UserName
    password: _text(1000, 1)  # type: ignore[valid-type]
    role: Role = "reader"
    groups: list[GroupName] = Field(default_factory=list, max_length=100)
    display_name: _text(200) = ""  # type: ignore[valid-type]


class UserUpdate(Body):
    """Change any of a user's role, disabled flag, local groups or password."""

    role: Role | None = None
    disabled: StrictBool | None = None
    groups: list[GroupName] | None = Field(None, max_length=100)
    password: _text(1000, 1) | None = None  # type: ignore[valid-type]


class GrantBody(Body):
    """The access level to grant (required)."""

    level: Level


class ExportQuery(Params):
    """Filters of an audit or evidence export."""

    format: Literal["json", "csv"] = "json"
    action: _text(100) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
    actor: _text(200) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
    user: _text(200) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
    collection: _text(64) | SkipJsonSchema[None] = None  # type: ignore[valid-type]


# -- path parameters -------------------------------------------------------------------------
class CollectionPath(Params):
    """A collection in the path."""

    name: StrictStr = Field(max_length=64, description="The collection's name.")


class DocumentPath(Params):
    """A document id in the path."""

    document_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class CollectionDocumentPath(CollectionPath):
    """A document of a collection in the path."""

    document_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class ChunkPath(Params):
    """A passage id in the path."""

    chunk_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class ConversationPath(Params):
    """A conversation id in the path."""

    conversation_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class JobPath(Params):
    """An ingest job id in the path."""

    job_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class UserPath(Params):
    """A user name in the path."""

    username: StrictStr = Field(max_length=200)


class GrantPath(CollectionPath):
    """A group's grant on a collection."""

    group: StrictStr = Field(max_length=200)


class ExportPath(Params):
    """Which record to export."""

    kind: Literal["audit", "evidence"]


class UploadQuery(Params):
    """``?wait=1`` waits for the ingest job and returns one result per file."""

    wait: Literal["0", "1", "true", "false", "yes", "no"] = "0"


class JobsQuery(Params):
    """Narrow the job list to one collection."""

    collection: _text(64) | SkipJsonSchema[None] = None  # type: ignore[valid-type]


# -- responses -----------------------------------------------------------------------------------
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
    collection: str
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
    evidence_id: int
    conversation_id: int


class ConversationSummary(Out):
    """One of your conversations."""

    id: int
    collection: str
    title: str
    created_at: str


class ConversationsOut(Out):
    """Your conversations, newest first."""

    conversations: list[ConversationSummary]


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


class ConversationOut(Out):
    """One of your conversations with its turns."""

    id: int
    collection: str
    title: str
    turns: list[TurnOut]


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


class GrantsOut(Out):
    """``{group: level}`` of a collection."""

    collection: str
    grants: dict[str, str]


class GrantOut(Out):
    """A group's grant after the change."""

    collection: str
    group: str
    level: str


# -- HTML forms (the web pages' posts: a malformed form changes nothing, the page says why) -------
def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


GroupList = Annotated[list[GroupName], BeforeValidator(_comma_list), Field(max_length=100)]


class Form(BaseModel):
    """A posted HTML form (values are text; the CSRF token and buttons are ignored)."""

    model_config = ConfigDict(extra="ignore")


class CollectionForm(Form):
    """New collection (admins)."""

    name: Annotated[CollectionName, BeforeValidator(_strip)]


class UserCreateForm(Form):
    """New local user (admin page)."""

    username: Annotated[UserName, BeforeValidator(_strip)]
    password: _text(1000, 1)  # type: ignore[valid-type]
    role: Role = "reader"
    groups: GroupList = Field(default_factory=list)
    display_name: _text(200) = ""  # type: ignore[valid-type]


class UserUpdateForm(Form):
    """Change of a user (admin page): only the fields sent change; an empty password is none."""

    role: Role | None = None
    groups: GroupList | None = None
    password: _text(1000) | None = None  # type: ignore[valid-type]
    disabled: Literal["true", "false"] | None = None


class GrantForm(Form):
    """Grant (or, with ``none``, revoke) a group's access to a collection (admin page)."""

    collection: CollectionName
    group: Annotated[GroupName, BeforeValidator(_strip)]
    level: Literal["read", "manage", "none"] = "read"


class RestrictForm(Form):
    """Who may read a document: comma-separated groups (required; empty lifts the restriction)."""

    groups: _text(20_000)  # type: ignore[valid-type]


class LoginForm(Form):
    """The login form (an empty password is refused by the login itself, not here)."""

    username: Annotated[_text(200), BeforeValidator(_strip)] = ""  # type: ignore[valid-type]
    password: _text(1000) = ""  # type: ignore[valid-type]


class TokenForm(Form):
    """New API token (account page)."""

    name: Annotated[_text(100), BeforeValidator(_strip)] = ""  # type: ignore[valid-type]


class PasswordForm(Form):
    """Password change (account page)."""

    current: _text(1000)  # type: ignore[valid-type]
    new: _text(1000)  # type: ignore[valid-type]
    confirm: _text(1000)  # type: ignore[valid-type]
