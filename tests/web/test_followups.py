"""Follow-up questions in a conversation: rewritten into a standalone search query from the
conversation (retrieval.followup_rewrite), searched with it, the query shown with the answer.

The real app on the ingested handbook: the service called directly, the JSON API, and the
OpenAI-compatible API driven by the official ``openai`` client (two user messages).
"""

from __future__ import annotations

import openai
import pytest

from db.models import AnswerRecord
from generation.events import DoneEvent, SourcesEvent, final_answer
from retrieval.acl import Principal
from services.accounts import get_user
from services.actor import Actor
from tests.conftest import make_token
from tests.web.conftest import parse_sse

pytestmark = pytest.mark.integration

FIRST = "What is the daily meal allowance for domestic trips?"
FOLLOW_UP = "and for international trips?"


def _admin(app) -> Actor:  # type: ignore[no-untyped-def]
    with app.extensions["enclave"].stack.sessions() as db:
        user = get_user(db, "admin")
        assert user is not None
        return Actor(user.id, "admin", "admin", Principal("admin", frozenset(), is_admin=True))


def test_follow_up_in_a_conversation_retrieves_the_right_passage(app) -> None:  # type: ignore[no-untyped-def]
    asking, admin = app.extensions["enclave"].asking, _admin(app)
    first = final_answer(asking.ask(admin, FIRST, "handbook"))
    assert first.search_query is None  # nothing before it: searched as asked
    events = asking.ask(admin, FOLLOW_UP, "handbook", conversation_id=first.conversation_id)
    sources = next(events)
    while not isinstance(sources, SourcesEvent):  # state events come before it
        sources = next(events)
    assert sources.search_query is not None and "meal allowance" in sources.search_query
    assert "international trips" in sources.search_query
    best = sources.sources[0]
    assert best.document == "travel-and-expenses.pdf" and "EUR 60" in best.text
    done = final_answer(events)
    assert isinstance(done, DoneEvent) and done.search_query == sources.search_query
    assert done.answer.question == FOLLOW_UP  # the record keeps what was asked
    assert done.conversation_id == first.conversation_id
    with app.extensions["enclave"].stack.sessions() as db:
        record = db.get(AnswerRecord, done.evidence_id)
        assert record.question == FOLLOW_UP and record.search_query == sources.search_query
    thread = asking.conversation(admin, first.conversation_id)
    assert [t.search_query for t in thread.turns] == [None, sources.search_query]


def test_api_shows_the_rewritten_query(client) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/api/v1/ask", json={"question": FIRST, "collection": "handbook"})
    assert first.status_code == 200 and first.get_json()["search_query"] is None
    conv = first.get_json()["conversation_id"]
    resp = client.post("/api/v1/ask", json={"question": FOLLOW_UP, "collection": "handbook",
                                            "conversation_id": conv, "stream": True})
    events = dict(parse_sse(resp.get_data(as_text=True)))
    query = events["sources"]["search_query"]
    assert "meal allowance" in query and events["done"]["search_query"] == query
    assert events["done"]["question"] == FOLLOW_UP
    turns = client.get(f"/api/v1/conversations/{conv}").get_json()["turns"]
    assert [t["search_query"] for t in turns] == [None, query]
    # a new conversation has nothing to follow: searched as asked
    alone = client.post("/api/v1/ask", json={"question": FOLLOW_UP, "collection": "handbook"})
    assert alone.get_json()["search_query"] is None


def test_openai_api_rewrites_the_last_user_message(app, live_server) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=live_server(app) + "/v1", api_key=make_token(app, "admin"),
                           max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="enclave:handbook", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "EUR 45 a day [1]."},
        {"role": "user", "content": FOLLOW_UP},
    ])
    enclave = (reply.model_extra or {})["enclave"]
    assert enclave["question"] == FOLLOW_UP
    assert "meal allowance" in enclave["search_query"]
    assert "60" in (reply.choices[0].message.content or "")
    single = client.chat.completions.create(
        model="enclave:handbook", messages=[{"role": "user", "content": FIRST}])
    assert (single.model_extra or {})["enclave"]["search_query"] is None
