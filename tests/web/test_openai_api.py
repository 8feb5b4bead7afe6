"""The OpenAI-compatible API, driven by the official ``openai`` client against a live server.

The real app on the ingested handbook, served from a thread on 127.0.0.1; the client is the
one users would point at Enclave (base URL ``.../v1``, an Enclave API token as the key).
"""

from __future__ import annotations

import json

import openai
import pytest

from db.models import AnswerRecord
from retrieval.acl import grant_collection
from retrieval.catalog import get_collection
from tests.conftest import make_token, make_user

pytestmark = pytest.mark.integration

QUESTION = "What is the daily meal allowance for domestic trips?"


@pytest.fixture
def client_for(app, live_server):  # type: ignore[no-untyped-def]
    base = live_server(app) + "/v1"
    with app.extensions["enclave"].stack.sessions() as db:
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        db.commit()
    make_user(app, "rita", "reader", ("staff",))
    make_user(app, "otto", "reader", ("finance",))

    def make(username: str, token: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=base, api_key=token or make_token(app, username),
                             max_retries=0, timeout=120)

    return make


def test_models_are_the_collections_the_user_can_read(client_for) -> None:  # type: ignore[no-untyped-def]
    assert [m.id for m in client_for("rita").models.list()] == ["enclave:handbook"]
    assert [m.id for m in client_for("otto").models.list()] == []


def test_completion_with_citations_and_an_evidence_record(app, client_for) -> None:  # type: ignore[no-untyped-def]
    reply = client_for("rita").chat.completions.create(
        model="enclave:handbook",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
    )
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop" and "45" in text
    extra = reply.model_extra or {}
    citations, enclave = extra["citations"], extra["enclave"]
    assert citations and all(f"[{c['n']}]" in text for c in citations)
    assert {c["document"] for c in citations} <= {"travel-and-expenses.pdf",
                                                  "employee-handbook.docx", "benefits.html",
                                                  "it-security.md"}
    with app.extensions["enclave"].stack.sessions() as db:
        record = db.get(AnswerRecord, enclave["evidence_id"])
        assert record is not None and record.username == "rita" and record.answer == text
        assert record.question == QUESTION


def test_stream_is_exactly_the_checked_answer(app, client_for) -> None:  # type: ignore[no-untyped-def]
    stream = client_for("rita").chat.completions.create(
        model="enclave:handbook", messages=[{"role": "user", "content": QUESTION}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    enclave = (last.model_extra or {})["enclave"]
    assert (last.model_extra or {})["citations"]
    with app.extensions["enclave"].stack.sessions() as db:
        assert db.get(AnswerRecord, enclave["evidence_id"]).answer == text


def test_refusals_are_typed_errors(client_for) -> None:  # type: ignore[no-untyped-def]
    rita = client_for("rita")
    with pytest.raises(openai.NotFoundError):  # exists, but not readable by otto: same answer
        client_for("otto").chat.completions.create(
            model="enclave:handbook", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.NotFoundError):
        rita.chat.completions.create(model="enclave:nope",
                                     messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError) as err:
        rita.chat.completions.create(model="enclave:handbook",
                                     messages=[{"role": "assistant", "content": "Hi"}])
    assert "messages" in json.dumps(err.value.body)
    with pytest.raises(openai.UnprocessableEntityError):
        rita.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.AuthenticationError):
        client_for("rita", token="enc_not-a-token").models.list()


def test_stream_events_match_the_documented_event_schema(app, client_for) -> None:  # type: ignore[no-untyped-def]
    # What schemathesis checks (ST108): each server-sent event against the OpenAPI document's
    # text/event-stream schema, for both streaming routes.
    import jsonschema

    client = app.test_client()
    token = make_token(app, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    doc = client.get("/api/v1/openapi.json", headers=headers).get_json()
    streams = {
        "/v1/chat/completions": {"model": "enclave:handbook", "stream": True,
                                 "messages": [{"role": "user", "content": QUESTION}]},
        "/api/v1/ask": {"question": QUESTION, "collection": "handbook", "stream": True},
    }
    for path, body in streams.items():
        schema = doc["paths"][path]["post"]["responses"]["200"]["content"][
            "text/event-stream"]["schema"]
        reply = client.post(path, json=body, headers=headers)
        assert reply.status_code == 200 and reply.mimetype == "text/event-stream"
        events = []
        for block in reply.get_data(as_text=True).split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "data" in fields:
                events.append({"event": fields.get("event", "message"), "data": fields["data"]})
        assert events
        for event in events:
            jsonschema.validate(event, schema)
