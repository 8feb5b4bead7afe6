"""The building blocks of the API's schemas: field types, base models and the error envelope.

Ids are positive and fit a signed 64-bit integer; ``k`` is capped at :data:`MAX_K`; text
fields have length limits and never carry NUL bytes. :class:`Body` forbids unknown fields,
:class:`Params` (query strings, paths) ignores them. :class:`ErrorOut` is the one envelope of
every error answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
)

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


def text_field(max_length: int, min_length: int = 0, description: str = "") -> Any:
    """A strict string of ``min_length``..``max_length`` characters without NUL bytes."""
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
Question = Annotated[text_field(2000, 1, "The question (at most 2,000 characters)."),
                     AfterValidator(_not_blank)]
Query = Annotated[text_field(2000, 1, "What to search for (at most 2,000 characters)."),
                  AfterValidator(_not_blank)]
ConversationTitle = Annotated[text_field(200, 1, "A title (at most 200 characters)."),
                              AfterValidator(_not_blank)]
Role = Literal["admin", "curator", "reader"]
Level = Literal["read", "manage"]

# -- the scope of a question or search --------------------------------------------------------
MAX_SCOPE = 50  # collections named in one scope
ALL_READABLE = "*"  # a scope's spelling of "every collection you can read"


def union_scope(collection: str | None, collections: Sequence[str] | None) -> list[str] | None:
    """The scope asked for by ``collection`` (one) and ``collections`` (several).

    Their union, in order, each once; neither (nothing named): None, every collection the
    caller can read. Shared by every entry point that takes a scope (JSON API, pages, MCP); the
    services check each name (an unreadable one is the same 404 as an unknown one).
    """
    return list(dict.fromkeys(([collection] if collection else []) + list(collections or []))) \
        or None


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
