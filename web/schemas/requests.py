"""What the JSON API accepts: request bodies, query strings and path parameters.

Bodies forbid unknown fields and never coerce types (``"k": "5"`` or a list where a string
belongs is a 422, not a guess). Query strings and paths arrive as text and are converted by
type; ids in a path are positive 64-bit integers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator
from pydantic.json_schema import SkipJsonSchema

from web.schemas.types import (
    MAX_ID,
    MAX_K,
    MAX_SCOPE,
    Body,
    CollectionName,
    ConversationTitle,
    GroupName,
    Id,
    K,
    Level,
    Params,
    Query,
    Question,
    Role,
    UserName,
    text_field,
    union_scope,
)


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
    documents: list[text_field(500, 1)] | None = Field(None, max_length=1000)  # type: ignore[valid-type]
    file_types: list[text_field(20, 1)] | None = Field(None, max_length=50)  # type: ignore[valid-type]
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


# The scope of a question or search: ``collection`` (one), ``collections`` (several), both
# (their union) or neither (every collection you can read; a continued conversation: its own).
ONE_COLLECTION = "One collection to search."
SEVERAL_COLLECTIONS = ("Several collections, searched as one (with ``collection``: their "
                       "union). Leave both out to search every collection you can read.")


class SearchBody(Body):
    """Top-k passages of one collection, several, or every one you can read."""

    query: Query
    collection: CollectionName | None = Field(None, description=ONE_COLLECTION)
    collections: list[CollectionName] | None = Field(None, min_length=1, max_length=MAX_SCOPE,
                                                     description=SEVERAL_COLLECTIONS)
    k: K | None = None
    filters: Filters | None = None

    def scope(self) -> list[str] | None:
        """The collections asked for (None: every collection you can read)."""
        return union_scope(self.collection, self.collections)


class SearchQuery(Params):
    """``GET /search``: the scope as in :class:`SearchBody` (no filters: use POST for those).

    ``collections`` repeats (``?collections=a&collections=b``): a list, the one kind of query
    parameter that may (:func:`web.validation.list_params`).
    """

    query: Query
    collection: CollectionName | SkipJsonSchema[None] = Field(None, description=ONE_COLLECTION)
    # Not Optional, no minimum: a query string cannot say null or send an empty list (absent
    # is all you can read; ``?collections=`` is an empty name, a 422); errors name ``collections[i]``.
    collections: list[CollectionName] = Field(
        None, max_length=MAX_SCOPE,
        description=SEVERAL_COLLECTIONS + " Repeat the parameter for each collection "
                    "(``?collections=a&collections=b``).")
    k: Annotated[int, Field(ge=1, le=MAX_K)] | SkipJsonSchema[None] = None

    def scope(self) -> list[str] | None:
        """The collections asked for (None: every collection you can read)."""
        return union_scope(self.collection, self.collections)


class AskBody(Body):
    """Ask a question about one collection, several, or every one you can read."""

    question: Question
    collection: CollectionName | None = Field(None, description=ONE_COLLECTION)
    collections: list[CollectionName] | None = Field(
        None, min_length=1, max_length=MAX_SCOPE,
        description=SEVERAL_COLLECTIONS + " Continuing a conversation without either keeps "
                    "its scope.")
    k: K | None = None
    stream: StrictBool = Field(False, description="Reply as server-sent events.")
    conversation_id: Id | None = Field(None, description="Continue one of your conversations.")

    def scope(self) -> list[str] | None:
        """The collections asked for (None: every collection you can read)."""
        return union_scope(self.collection, self.collections)


class UserCreate(Body):
    """A new local account."""

    username: UserName
    password: text_field(1000, 1)  # type: ignore[valid-type]
    role: Role = "reader"
    groups: list[GroupName] = Field(default_factory=list, max_length=100)
    display_name: text_field(200) = ""  # type: ignore[valid-type]


class UserUpdate(Body):
    """Change any of a user's role, disabled flag, local groups or password."""

    role: Role | None = None
    disabled: StrictBool | None = None
    groups: list[GroupName] | None = Field(None, max_length=100)
    password: text_field(1000, 1) | None = None  # type: ignore[valid-type]


class GrantBody(Body):
    """The access level to grant (required)."""

    level: Level


class ConversationRename(Body):
    """A new title for one of your conversations."""

    title: ConversationTitle


class FeedbackBody(Body):
    """Rate one of your answers: ``rating`` (required) and an optional ``comment``."""

    rating: Literal["up", "down"] = Field(description="Thumbs up or down.")
    comment: text_field(2000, 0, "Why (at most 2,000 characters).") | None = None  # type: ignore[valid-type]


class FeedbackQuery(Params):
    """Which rated answers to list: ``down`` (default), ``up`` or ``all``; one page of them."""

    rating: Literal["down", "up", "all"] = "down"
    limit: Annotated[int, Field(ge=1, le=200, description="At most 200 per page.")] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_ID)] = 0


class FeedbackExportQuery(Params):
    """Export the rated answers (``down`` by default) as CSV or JSON lines."""

    format: Literal["csv", "jsonl"] = "jsonl"
    rating: Literal["down", "up", "all"] = "down"


class ExportQuery(Params):
    """Filters of an audit or evidence export."""

    format: Literal["json", "csv"] = "json"
    action: text_field(100) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
    actor: text_field(200) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
    user: text_field(200) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
    collection: text_field(64) | SkipJsonSchema[None] = None  # type: ignore[valid-type]


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


class AnswerPath(Params):
    """An answer's evidence record id in the path (``evidence_id`` of the ask API)."""

    evidence_id: Annotated[int, Field(ge=1, le=MAX_ID)]


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


class SourceCreate(Body):
    """Attach a folder to a collection: ``collection`` and ``path`` (required)."""

    collection: CollectionName
    path: text_field(4096, 1, "Absolute path of an existing folder (a local disk or a mounted "  # type: ignore[valid-type]
                     "NFS/SMB share) outside the data directory.")
    interval_s: Annotated[StrictInt, Field(ge=0, le=10**8)] | None = Field(
        None, description="Seconds between scheduled syncs (null: ingest.sync_interval_s; "
        "0: on demand only).")
    enabled: StrictBool = True
    restrictions: dict[text_field(1000, 1), list[GroupName]] = Field(  # type: ignore[valid-type]
        default_factory=dict, max_length=200,
        description="Subfolder -> groups: files under it are readable only by those groups "
        "(the longest matching subfolder wins).")


class SourcePath(Params):
    """A synced source's id in the path."""

    source_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class UploadQuery(Params):
    """``?wait=1`` waits for the ingest job and returns one result per file."""

    wait: Literal["0", "1", "true", "false", "yes", "no"] = "0"


class JobsQuery(Params):
    """Narrow the job list to one collection."""

    collection: text_field(64) | SkipJsonSchema[None] = None  # type: ignore[valid-type]
