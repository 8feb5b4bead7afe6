"""The OpenAI-compatible API, driven by the official ``openai`` client against a live server.

The real app on the ingested handbook, served from a thread on 127.0.0.1; the client is the
one users would point at Enclave (base URL ``.../v1``, an Enclave API token as the key).
"""

from __future__ import annotations

import json

import openai
import pytest
from sqlalchemy import func, select

from db.models import AnswerRecord, Conversation
from retrieval.acl import grant_collection
from retrieval.catalog import get_collection
from tests.conftest import make_token, make_user
from tests.web.conftest import add_collection

pytestmark = pytest.mark.integration

QUESTION = "What is the daily meal allowance for domestic trips?"


def _clients(app, live_server):  # type: ignore[no-untyped-def]
    """``make(username)``: an ``openai`` client of the live app acting as ``username``; rita
    (staff) reads the handbook, otto (finance) reads nothing."""
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


@pytest.fixture
def client_for(app, live_server):  # type: ignore[no-untyped-def]
    return _clients(app, live_server)


POLICIES_TEXT = (b"# Remote work\n\nRemote work from abroad needs the codeword ORCHID-REMOTE-22 "
                 b"from the policies desk.\n")
BOARD_TEXT = (b"# Board minutes\n\nThe board approved remote work from abroad under the "
              b"codeword BOARD-CANARY-17.\n")
REMOTE = "Which codeword does remote work from abroad need?"


@pytest.fixture
def scoped(extractive_handbook_app, live_server):  # type: ignore[no-untyped-def]
    """(app, client_for) over handbook and policies (readable by staff: rita) and board (the
    board only), answering extractively (no LLM: fast, same answer every run)."""
    app = extractive_handbook_app
    add_collection(app, "policies", "staff", {"remote.md": POLICIES_TEXT})
    add_collection(app, "board", "board", {"minutes.md": BOARD_TEXT})
    return app, _clients(app, live_server)


def _rows(app) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with app.extensions["enclave"].stack.sessions() as db:
        return (db.scalar(select(func.count()).select_from(AnswerRecord)) or 0,
                db.scalar(select(func.count()).select_from(Conversation)) or 0)


def test_models_are_the_collections_the_user_can_read(client_for) -> None:  # type: ignore[no-untyped-def]
    assert [m.id for m in client_for("rita").models.list()] == ["enclave:handbook", "enclave:*"]
    assert [m.id for m in client_for("otto").models.list()] == []  # reads nothing: no "all"


def test_all_and_several_collections_as_the_model(scoped) -> None:  # type: ignore[no-untyped-def]
    app, client_for = scoped
    rita = client_for("rita")
    assert [m.id for m in rita.models.list()] == ["enclave:handbook", "enclave:policies",
                                                  "enclave:*"]
    for model, label in (("enclave:*", "*"), ("enclave:policies,handbook", "handbook,policies")):
        reply = rita.chat.completions.create(model=model,
                                             messages=[{"role": "user", "content": REMOTE}])
        text = reply.choices[0].message.content or ""
        extra = reply.model_extra or {}
        assert reply.model == model and not extra["enclave"]["abstained"], extra
        assert "ORCHID-REMOTE-22" in text
        assert "remote.md" in {c["document"] for c in extra["citations"]}
        assert "BOARD-CANARY" not in text + json.dumps(extra)  # board: not rita's to read
        with app.extensions["enclave"].stack.sessions() as db:
            conversation = db.get(Conversation, extra["enclave"]["conversation_id"])
            assert conversation is not None and conversation.collection == label
    # otto reads nothing: "all" is not listed for him, and asking it finds nothing to cite
    nothing = client_for("otto").chat.completions.create(
        model="enclave:*", messages=[{"role": "user", "content": REMOTE}])
    assert (nothing.model_extra or {})["enclave"]["abstained"]
    assert not (nothing.model_extra or {})["citations"]
    # streamed, a comma list: the same checked answer
    chunks = list(rita.chat.completions.create(
        model="enclave:handbook,policies", messages=[{"role": "user", "content": REMOTE}],
        stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "ORCHID-REMOTE-22" in streamed and chunks[-1].model == "enclave:handbook,policies"
    with app.extensions["enclave"].stack.sessions() as db:
        evidence_id = (chunks[-1].model_extra or {})["enclave"]["evidence_id"]
        assert db.get(AnswerRecord, evidence_id).answer == streamed


def test_scope_models_are_refused_as_an_unknown_model(scoped) -> None:  # type: ignore[no-untyped-def]
    app, client_for = scoped
    rita, otto = client_for("rita"), client_for("otto")
    before = _rows(app)

    def refused(client: openai.OpenAI, model: str, error: type[Exception]) -> str:
        with pytest.raises(error) as err:
            client.chat.completions.create(model=model,
                                           messages=[{"role": "user", "content": REMOTE}])
        return json.dumps(err.value.body)  # type: ignore[attr-defined]

    # a collection rita cannot read, alone or in a list: exactly an unknown collection's 404
    hidden = refused(rita, "enclave:handbook,board", openai.NotFoundError)
    unknown = refused(rita, "enclave:handbook,nowhere", openai.NotFoundError)
    assert "board" in hidden and hidden.replace("board", "X") == unknown.replace("nowhere", "X")
    assert refused(rita, "enclave:board", openai.NotFoundError) == hidden
    assert refused(rita, "enclave:nowhere", openai.NotFoundError) == unknown
    assert refused(otto, "enclave:policies,handbook", openai.NotFoundError) == refused(
        otto, "enclave:nowhere,handbook", openai.NotFoundError).replace("nowhere", "policies")
    # a malformed scope: 422 on the model field
    for model in ("enclave:handbook,", "enclave:*,handbook", "enclave:", "enclave:a,,b",
                  "enclave:" + ",".join(["handbook"] * 51), "enclave:hand book", "handbook"):
        assert "model" in refused(rita, model, openai.UnprocessableEntityError), model
    assert _rows(app) == before  # nothing was recorded


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
