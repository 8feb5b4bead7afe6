"""Typed request schemas of the JSON API (``/api/v1``): one pydantic model per body and query.

Views validate before they touch anything (:func:`web.validation.parse_body`), so a
malformed request changes nothing. Bodies forbid unknown fields and never coerce types
(``"k": "5"`` or a list where a string belongs is a 422, not a guess); ids are positive and
fit a signed 64-bit integer; strings have length limits and never carry NUL bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from ingest.pipeline import COLLECTION_NAME_RE

MAX_ID = 2**63 - 1  # SQLite's and PostgreSQL's bigint
MAX_K = 100  # ceiling of ``k``; ``web.max_k`` may lower it
NO_NUL = r"^[^\x00]*$"

# -- field types -----------------------------------------------------------------------------
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID, description="A positive 64-bit id.")]
K = Annotated[StrictInt, Field(ge=1, le=MAX_K, description="Passages to return (1-100; "
                                                         "at most web.max_k).")]


def _text(max_length: int, min_length: int = 0, description: str = "") -> Any:
    return Annotated[StrictStr, Field(min_length=min_length, max_length=max_length,
                                      pattern=NO_NUL, description=description)]


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
    k: Annotated[int, Field(ge=1, le=MAX_K)] | None = None


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
    action: _text(100) | None = None  # type: ignore[valid-type]
    actor: _text(200) | None = None  # type: ignore[valid-type]
    user: _text(200) | None = None  # type: ignore[valid-type]
    collection: _text(64) | None = None  # type: ignore[valid-type]
