"""An OpenAI-compatible API under ``/v1``: chat completions and models, over the same services.

Point any OpenAI client at ``http://<host>/v1`` with an Enclave API token as the key and a
model name that is the scope: ``enclave:<collection>``, several as ``enclave:<a>,<b>``, or
``enclave:*`` for every collection the token's user can read. The last user message is the
question; the earlier user messages are the conversation its follow-up rewrite reads ("and
on Windows?" is searched as a standalone query, returned as ``enclave.search_query``);
access control, abstention and the evidence record are those of ``POST /api/v1/ask``.
Citations come as ``[n]`` markers in the text and in the extra ``citations`` field
(``enclave`` carries the evidence record's ids).

Streaming tells the truth: the answer is checked against its sources before any of it is
sent, so a streamed reply is exactly the final one (never text replaced after the fact).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, stream_with_context

from generation.events import DoneEvent, final_answer
from services.container import Services
from services.errors import Invalid
from web.auth.guards import actor
from web.contract import SSE_EVENT, api_blueprint, content, reply
from web.schemas.openai import (
    ALL_MODEL,
    MODEL_PREFIX,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatReply,
    EnclaveInfo,
    ModelOut,
    ModelsOut,
)
from web.schemas.responses import CitationOut

OPENAI_PREFIX = "/v1"
bp = api_blueprint("openai", __name__, OPENAI_PREFIX, "openai",
                   "OpenAI-compatible chat completions over your collections.")


def _services() -> Services:
    return current_app.extensions["enclave"]


@bp.get("/models", responses={200: ModelsOut})
def list_models():  # type: ignore[no-untyped-def]
    """The collections you can read, as ``enclave:<collection>``, then ``enclave:*`` (all of them).

    ``enclave:*`` is listed when you can read at least one collection. Several collections are
    asked as ``enclave:<a>,<b>`` (not listed: any combination of the names listed).
    """
    names = [MODEL_PREFIX + c.name for c in _services().library.collections(actor())]
    return reply(ModelsOut(data=[ModelOut(id=n) for n in [*names, ALL_MODEL] if names]))


def _question(body: ChatCompletionRequest) -> str:
    last = body.messages[-1]
    if last.role != "user" or not last.content.strip():
        raise Invalid("the last message must be the user's question (role 'user', not empty)",
                      field="messages")
    if len(last.content) > 2000:
        raise Invalid("the question is longer than 2,000 characters", field="messages")
    return last.content


def _completion(done: DoneEvent, model: str, created: int) -> ChatCompletion:
    answer = done.to_dict()
    return ChatCompletion(
        id=f"chatcmpl-{done.evidence_id}", created=created, model=model,
        choices=[ChatChoice(message=ChatReply(content=answer["answer"]))],
        citations=[CitationOut(**c) for c in answer["citations"]],
        enclave=EnclaveInfo(evidence_id=done.evidence_id or 0,
                            conversation_id=done.conversation_id or 0,
                            abstained=answer["abstained"], mode=answer["mode"],
                            question=answer["question"], search_query=done.search_query),
    )


def _pieces(text: str, size: int = 48) -> Iterator[str]:
    """The answer in small pieces, cut after white space, for clients that render deltas."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start, end)
            end = cut + 1 if cut > start else end
        yield text[start:end]
        start = end


def _stream(events: Iterator[Any], model: str, created: int) -> Iterator[str]:
    def chunk(cid: str, delta: dict[str, Any], finish: str | None = None,
              **extra: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n"

    completion = _completion(final_answer(events), model, created).model_dump(mode="json")
    cid = completion["id"]
    yield chunk(cid, {"role": "assistant", "content": ""})
    for piece in _pieces(completion["choices"][0]["message"]["content"]):
        yield chunk(cid, {"content": piece})
    yield chunk(cid, {}, "stop", citations=completion["citations"],
                enclave=completion["enclave"])
    yield "data: [DONE]\n\n"


@bp.post("/chat/completions", responses={200: content(
    bp, "The completion (JSON), or with ``stream`` server-sent ``chat.completion.chunk`` "
    "events ending with ``data: [DONE]``; the last chunk carries ``citations``.",
    ChatCompletion, {"text/event-stream": SSE_EVENT})})
def chat_completions(body: ChatCompletionRequest):  # type: ignore[no-untyped-def]
    """Answer the last user message from the ``model``'s collections, with citations.

    ``model`` is the scope: ``enclave:<collection>``, ``enclave:<a>,<b>`` (searched as one) or
    ``enclave:*`` (every collection you can read); a collection you cannot read is a 404, as
    an unknown one. The earlier user messages drive the follow-up rewrite of the last one.
    """
    question = _question(body)
    earlier = [m.content for m in body.messages[:-1] if m.role == "user"]
    events = _services().asking.ask(actor(), question, body.scope(), earlier=earlier)
    created = int(time.time())
    if body.stream:
        return Response(stream_with_context(_stream(events, body.model, created)),
                        mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return reply(_completion(final_answer(events), body.model, created))
