"""Schemas of the OpenAI-compatible API (``/v1``): chat completions and models.

The subset of OpenAI's chat-completions request Enclave honours, checked like every other body
(unknown fields refused, no coercion). ``model`` names the scope: ``enclave:<collection>``,
several as ``enclave:<a>,<b>``, or ``enclave:*`` for every collection the caller can read.
Citations travel in the extra ``citations`` field and as ``[n]`` markers in the text; the
evidence record's ids in ``enclave``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt

from ingest.pipeline import COLLECTION_NAME_RE
from web.schemas.responses import CitationOut, Out
from web.schemas.types import ALL_READABLE, MAX_SCOPE, Body, text_field, union_scope

MODEL_PREFIX = "enclave:"
ALL_MODEL = MODEL_PREFIX + ALL_READABLE  # every collection the caller can read
_NAME = COLLECTION_NAME_RE.pattern.strip("^$")
ScopeName = Annotated[str, Field(
    pattern=rf"^{MODEL_PREFIX}(?:\{ALL_READABLE}|{_NAME}(?:,{_NAME}){{0,{MAX_SCOPE - 1}}})$",
    description="The scope: 'enclave:<collection>', several as 'enclave:<a>,<b>' (at most "
                f"{MAX_SCOPE}), or 'enclave:*' for every collection you can read "
                "(GET /v1/models lists yours).",
    examples=["enclave:handbook", "enclave:handbook,policies", ALL_MODEL])]


def model_scope(model: str) -> list[str] | None:
    """The collections a valid model name names (None: every collection you can read)."""
    scope = model[len(MODEL_PREFIX):]
    return None if scope == ALL_READABLE else union_scope(None, scope.split(","))


class ChatMessage(Body):
    """One message of the conversation."""

    role: Literal["system", "developer", "user", "assistant"]
    content: text_field(8000, 0, "The message text (at most 8,000 characters).")  # type: ignore[valid-type]


class ChatCompletionRequest(Body):
    """``POST /v1/chat/completions``: the last message must be the user's question."""

    model: ScopeName
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    stream: StrictBool = False
    # Accepted for client compatibility and not used: the answer's length and sampling are the
    # server's (generation.max_tokens, generation.temperature).
    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=2)
    max_tokens: StrictInt | None = Field(None, ge=1, le=32768)
    user: text_field(200) | None = None  # type: ignore[valid-type]

    def scope(self) -> list[str] | None:
        """The collections ``model`` names (None: every collection you can read)."""
        return model_scope(self.model)


class ChatReply(Out):
    """The assistant's message."""

    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(Out):
    """The one choice Enclave returns."""

    index: int = 0
    message: ChatReply
    finish_reason: Literal["stop"] = "stop"


class EnclaveInfo(Out):
    """Enclave's own fields: the evidence record, whether it abstained, how it answered."""

    evidence_id: int
    conversation_id: int
    abstained: bool
    mode: str
    question: str = Field(description="The question (the last user message).")
    search_query: str | None = Field(
        None, description="The standalone query the question was searched with, rewritten "
        "from the earlier user messages (retrieval.followup_rewrite); null: searched as asked.")


class ChatCompletion(Out):
    """A chat completion (OpenAI's shape) with citations."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    citations: list[CitationOut]
    enclave: EnclaveInfo


class ModelOut(Out):
    """A scope the caller may ask about."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "enclave"


class ModelsOut(Out):
    """``GET /v1/models``: the collections the caller can read, as model names, and ``enclave:*``."""

    object: Literal["list"] = "list"
    data: list[ModelOut]
