"""Feedback on answers, called as the web views call it: owners rate, admins review and export.

A real SQLite database migrated by the start-up step; answer records written by the same
function the ask service uses (no models loaded).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from db.models import AnswerFeedback, AnswerRecord, AuditEvent, Conversation
from retrieval.acl import Principal
from services import audit
from services.accounts import create_user
from services.actor import Actor
from services.container import Services, build_services
from services.errors import Forbidden, Invalid, NotFound
from tests.conftest import make_settings

PASSWORD = "correct-horse-battery-1"
HIT = {"chunk_id": 7, "document_id": 1, "document": "travel.pdf", "document_version": 2,
       "page": 3, "score": 0.81}


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    built = build_services(make_settings(tmp_path / "data"))
    built.open()
    yield built
    built.close()


def _user(services: Services, name: str, role: str = "reader") -> Actor:
    with services.stack.sessions() as db:
        user = create_user(db, name, PASSWORD, role)
        db.commit()
        return Actor(user.id, name, role, Principal(name, frozenset(), is_admin=role == "admin"))


def _answer(services: Services, who: Actor, question: str = "How much for meals?") -> int:
    """An evidence record of ``who`` citing one passage, as the ask service writes it."""
    with services.stack.sessions() as db:
        conv = Conversation(user_id=who.user_id, collection="handbook", title=question)
        db.add(conv)
        db.flush()
        rec = audit.record_answer(
            db, user_id=who.user_id or 0, username=who.username, conversation=conv,
            question=question, answer={"answer": "EUR 45 [1]", "mode": "generative",
                                       "citations": [{"n": 1, "chunk_id": 7, "span_start": 4,
                                                      "span_end": 9}]},
            hits=[HIT], model_name="smollm", model_sha256=None)
        db.commit()
        return rec.id


def _feedback_rows(services: Services) -> list[tuple[int, str, str]]:
    with services.stack.sessions() as db:
        return [tuple(r) for r in db.execute(select(
            AnswerFeedback.record_id, AnswerFeedback.rating, AnswerFeedback.comment)
            .order_by(AnswerFeedback.record_id)).all()]


def test_owner_rates_and_rating_again_replaces(services: Services) -> None:
    pat = _user(services, "pat")
    rec = _answer(services, pat)
    first = services.feedback.rate(pat, rec, "down", "  wrong amount  ")
    assert (first.evidence_id, first.rating, first.comment) == (rec, "down", "wrong amount")
    assert first.rated_at.endswith("Z")
    again = services.feedback.rate(pat, rec, "up")
    assert (again.rating, again.comment) == ("up", "")
    assert _feedback_rows(services) == [(rec, "up", "")]  # one row per answer, replaced
    with services.stack.sessions() as db:  # the evidence record itself is untouched
        assert db.get(AnswerRecord, rec).answer == "EUR 45 [1]"
        row = db.get(AnswerFeedback, rec)
        assert row.user_id == pat.user_id and row.created_at <= row.updated_at


def test_nobody_rates_someone_elses_answer_and_existence_does_not_leak(
        services: Services) -> None:
    pat, bob = _user(services, "pat"), _user(services, "bob")
    root = _user(services, "root", "admin")
    rec = _answer(services, pat)
    messages = set()
    for who, evidence_id in ((bob, rec), (root, rec), (Actor.cli(), rec), (bob, 999_999)):
        with pytest.raises(NotFound) as caught:
            services.feedback.rate(who, evidence_id, "down", "not mine")
        messages.add(caught.value.message.replace(str(evidence_id), "N"))
    assert messages == {"no answer N"}  # someone else's answer reads like an unknown one
    assert _feedback_rows(services) == []


def test_bad_ratings_and_comments_are_refused_and_change_nothing(services: Services) -> None:
    pat = _user(services, "pat")
    rec = _answer(services, pat)
    services.feedback.rate(pat, rec, "up", "fine")
    for rating, comment, field in (("sideways", None, "rating"), ("down", "x" * 2001, "comment"),
                                   ("down", "nul\x00byte", "comment")):
        with pytest.raises(Invalid) as caught:
            services.feedback.rate(pat, rec, rating, comment)
        assert caught.value.field == field
    assert _feedback_rows(services) == [(rec, "up", "fine")]
    services.feedback.rate(pat, rec, "down", "y" * 2000)  # the limit itself is fine


def test_admins_list_low_rated_answers_newest_first_with_paging(services: Services) -> None:
    pat, bob = _user(services, "pat"), _user(services, "bob")
    root = _user(services, "root", "admin")
    recs = [_answer(services, pat, f"question {i}") for i in range(5)]
    liked = _answer(services, bob, "a good one")
    for i, rec in enumerate(recs):
        services.feedback.rate(pat, rec, "down", f"comment {i}")
    services.feedback.rate(bob, liked, "up")
    services.feedback.rate(pat, recs[1], "down", "changed my mind: still wrong")  # now newest

    page = services.feedback.rated_answers(root, "down", limit=2)
    assert (page.rating, page.total, page.limit, page.offset) == ("down", 5, 2, 0)
    assert [i.evidence_id for i in page.items] == [recs[1], recs[4]]
    top = page.items[0]
    assert (top.question, top.answer, top.username, top.collection) == (
        "question 1", "EUR 45 [1]", "pat", "handbook")
    assert (top.rating, top.comment, top.model, top.mode) == (
        "down", "changed my mind: still wrong", "smollm", "generative")
    assert top.cited[0]["document"] == "travel.pdf" and top.cited[0]["n"] == 1
    assert top.cited[0]["version"] == 2 and top.cited[0]["page"] == 3
    assert top.retrieved[0]["chunk_id"] == 7
    rest = services.feedback.rated_answers(root, "down", limit=2, offset=2)
    assert [i.evidence_id for i in rest.items] == [recs[3], recs[2]]
    assert services.feedback.rated_answers(root, "down", offset=10).items == []
    assert [i.evidence_id for i in services.feedback.rated_answers(root, "up").items] == [liked]
    assert services.feedback.rated_answers(root, "all").total == 6
    for kwargs in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"rating": "meh"}):
        with pytest.raises(Invalid):
            services.feedback.rated_answers(root, **kwargs)  # type: ignore[arg-type]


def test_only_admins_review_and_export(services: Services) -> None:
    pat = _user(services, "pat")
    curator = _user(services, "cora", "curator")
    services.feedback.rate(pat, _answer(services, pat), "down")
    for who in (pat, curator):
        with pytest.raises(Forbidden):
            services.feedback.rated_answers(who)
        with pytest.raises(Forbidden):
            services.feedback.export(who, "csv")
    assert services.feedback.rated_answers(Actor.cli()).total == 1


def test_export_csv_and_json_lines(services: Services) -> None:
    pat = _user(services, "pat")
    root = _user(services, "root", "admin")
    first = _answer(services, pat, "=HYPERLINK(\"http://x\")")
    second = _answer(services, pat, "second question")
    services.feedback.rate(pat, first, "down", "formula, \"quoted\"\nand a new line")
    services.feedback.rate(pat, second, "down")
    services.feedback.rate(pat, _answer(services, pat, "liked"), "up")

    lines = services.feedback.export(root, "jsonl")
    assert lines.mimetype == "application/x-ndjson" and lines.filename.endswith(".jsonl")
    rows = [json.loads(line) for line in lines.body.splitlines()]
    assert lines.rows == 2 and [r["evidence_id"] for r in rows] == [second, first]
    assert rows[1]["comment"] == "formula, \"quoted\"\nand a new line"
    assert rows[1]["cited"][0]["document"] == "travel.pdf"

    table = services.feedback.export(root, "csv")
    assert table.mimetype == "text/csv" and table.filename.endswith(".csv")
    parsed = list(csv.DictReader(io.StringIO(table.body)))
    assert [int(r["evidence_id"]) for r in parsed] == [second, first]
    assert parsed[1]["question"].startswith("'=")  # no formula runs in a spreadsheet
    assert parsed[1]["comment"] == "formula, \"quoted\"\nand a new line"
    assert json.loads(parsed[1]["cited"])[0]["chunk_id"] == 7
    assert services.feedback.export(root, "jsonl", "all").rows == 3
    with services.stack.sessions() as db:  # every export is audited
        exports = db.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == "export",
                                   AuditEvent.target == "feedback"))
        assert exports == 3
