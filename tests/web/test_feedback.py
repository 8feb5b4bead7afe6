"""Feedback on answers through the web app: the rating API, the admin review API and page,
the exports, the ask page's buttons, and the new routes fuzzed against their OpenAPI schemas.

Pat and Bob read the handbook (group staff); the app answers extractively (fast). A malformed
rating is refused with the one error envelope and changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from tests.conftest import (
    USER_PASSWORD,
    _client_class,
    login,
    make_settings,
    make_token,
    make_user,
)
from tests.web.conftest import table_rows

pytestmark = pytest.mark.integration

QUESTION = "What is the daily meal allowance?"
BROKEN_BODIES = [('{"rating": "down"', "application/json"), ("", "application/json"),
                 ('{"rating": "down"}', "text/plain"), ("[]", "application/json"),
                 ("null", "application/json"), ("{'rating': 'down'}", "application/json")]


@pytest.fixture(scope="module")
def app(handbook_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.catalog import get_collection
    from web import create_app, start

    data = tmp_path_factory.mktemp("feedback") / "data"
    shutil.copytree(handbook_dir, data)
    application = start(create_app(make_settings(data, generation={"mode": "extractive"})))
    application.config["TESTING"] = True
    application.test_client_class = _client_class()
    make_user(application, "admin", "admin")
    make_user(application, "pat", "reader", ("staff",))
    make_user(application, "bob", "reader", ("staff",))
    with application.extensions["enclave"].stack.sessions() as db:
        get_or_create_group(db, "staff")
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        db.commit()
    yield application
    application.extensions["enclave"].close()


def _token_client(app: Any, username: str) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app, username)}"
    return client


@pytest.fixture(scope="module")
def pat(app: Any) -> Any:
    return _token_client(app, "pat")


@pytest.fixture(scope="module")
def bob(app: Any) -> Any:
    return _token_client(app, "bob")


@pytest.fixture(scope="module")
def admin(app: Any) -> Any:
    return _token_client(app, "admin")


def _ask(client: Any, question: str = QUESTION) -> int:
    resp = client.post("/api/v1/ask", json={"question": question, "collection": "handbook"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["evidence_id"]


def _stored(app: Any, evidence_id: int) -> tuple[str, str] | None:
    from db.models import AnswerFeedback

    with app.extensions["enclave"].stack.sessions() as db:
        row = db.get(AnswerFeedback, evidence_id)
        return None if row is None else (row.rating, row.comment)


def _envelope(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert isinstance(body, dict) and body["status"] == status and body["error"], body
    return body


def _url(evidence_id: int | str) -> str:
    return f"/api/v1/answers/{evidence_id}/feedback"


# -- rating -----------------------------------------------------------------------------------
def test_the_asker_rates_and_rating_again_replaces(app: Any, pat: Any) -> None:
    evidence = _ask(pat)
    resp = pat.post(_url(evidence), json={"rating": "down", "comment": "The amount is wrong."})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"evidence_id", "rating", "comment", "rated_at"}
    assert (body["evidence_id"], body["rating"], body["comment"]) == (
        evidence, "down", "The amount is wrong.")
    assert _stored(app, evidence) == ("down", "The amount is wrong.")
    again = pat.post(_url(evidence), json={"rating": "up"})
    assert again.status_code == 200 and again.get_json()["comment"] == ""
    assert _stored(app, evidence) == ("up", "")


def test_someone_elses_answer_is_the_same_404_as_an_unknown_one(app: Any, pat: Any, bob: Any,
                                                                admin: Any) -> None:
    evidence = _ask(pat)
    pat.post(_url(evidence), json={"rating": "up", "comment": "good"})
    theirs = _envelope(bob.post(_url(evidence), json={"rating": "down"}), 404)
    unknown = _envelope(bob.post(_url(987654321), json={"rating": "down"}), 404)
    assert theirs["error"].replace(str(evidence), "N") == unknown["error"].replace("987654321", "N")
    _envelope(admin.post(_url(evidence), json={"rating": "down"}), 404)  # admins too
    _envelope(bob.post(_url("99999999999999999999"), json={"rating": "down"}), 404)
    assert _stored(app, evidence) == ("up", "good")


def test_a_reopened_conversation_shows_only_its_owners_rating(app: Any, pat: Any, bob: Any,
                                                                admin: Any) -> None:
    first = pat.post("/api/v1/ask", json={"question": "Who approves travel?",
                                          "collection": "handbook"}).get_json()
    conv_id = first["conversation_id"]
    rated = first["evidence_id"]
    unrated = pat.post("/api/v1/ask", json={"question": QUESTION, "collection": "handbook",
                                            "conversation_id": conv_id}).get_json()["evidence_id"]
    pat.post(_url(rated), json={"rating": "down", "comment": "Wrong approver."})

    resp = pat.get(f"/api/v1/conversations/{conv_id}")
    assert resp.status_code == 200, resp.get_json()
    turns = {t["id"]: t for t in resp.get_json()["turns"]}
    assert set(turns) == {rated, unrated}
    fb = turns[rated]["feedback"]
    assert (fb["evidence_id"], fb["rating"], fb["comment"]) == (rated, "down", "Wrong approver.")
    assert fb["rated_at"].endswith("Z")
    assert turns[unrated]["feedback"] is None
    pat.post(_url(rated), json={"rating": "up"})  # rating again: the reopened turn follows
    again = pat.get(f"/api/v1/conversations/{conv_id}").get_json()["turns"]
    assert [(t["feedback"] or {}).get("rating") for t in again] == ["up", None]

    # Nobody else sees the conversation, hence the rating: the same 404 as an unknown id.
    for other in (bob, admin):
        _envelope(other.get(f"/api/v1/conversations/{conv_id}"), 404)
    # and the service only ever attaches the actor's own ratings, even to a record id it is given
    from services.feedback import own_ratings

    with app.extensions["enclave"].stack.sessions() as db:
        assert own_ratings(db, _user_id(app, "bob"), [rated]) == {}
        assert own_ratings(db, _user_id(app, "pat"), [rated])[rated].rating == "up"
        assert own_ratings(db, None, [rated]) == {}


def _user_id(app: Any, username: str) -> int:
    from sqlalchemy import select

    from db.models import User

    with app.extensions["enclave"].stack.sessions() as db:
        return db.scalars(select(User.id).where(User.username == username)).one()


@pytest.mark.parametrize(("body", "field"), [
    ({"rating": "meh"}, "rating"),
    ({"rating": "DOWN"}, "rating"),
    ({"rating": ["down"]}, "rating"),
    ({"rating": None}, "rating"),
    ({}, "rating"),
    ({"comment": "no rating"}, "rating"),
    ({"rating": "down", "comment": "x" * 2001}, "comment"),
    ({"rating": "down", "comment": "nul\x00byte"}, "comment"),
    ({"rating": "down", "comment": 42}, "comment"),
    ({"rating": "down", "comment": ["a"]}, "comment"),
    ({"rating": "down", "stars": 1}, "stars"),
])
def test_invalid_ratings_are_422_and_change_nothing(app: Any, pat: Any, body: dict[str, Any],
                                                    field: str) -> None:
    evidence = _ask(pat, "How many days of annual leave do I get?")
    pat.post(_url(evidence), json={"rating": "up", "comment": "fine"})
    out = _envelope(pat.post(_url(evidence), json=body), 422)
    assert field in [f["field"] for f in out["fields"]], out
    assert _stored(app, evidence) == ("up", "fine")


def test_malformed_bodies_are_refused_and_change_nothing(app: Any, pat: Any) -> None:
    evidence = _ask(pat)
    pat.post(_url(evidence), json={"rating": "up"})
    for raw, ctype in BROKEN_BODIES:
        resp = pat.open(_url(evidence), method="POST", data=raw.encode(), content_type=ctype)
        assert 400 <= resp.status_code < 500, (raw, resp.status_code)
        _envelope(resp, resp.status_code)
        assert _stored(app, evidence) == ("up", ""), f"{raw!r} changed the rating"
    ok = pat.post(_url(evidence), json={"rating": "down", "comment": "a" * 2000})
    assert ok.status_code == 200 and _stored(app, evidence) == ("down", "a" * 2000)


def test_browser_sessions_need_the_csrf_token(app: Any) -> None:
    browser = app.test_client()
    assert login(browser, "pat", USER_PASSWORD).status_code == 302
    evidence = _ask(browser)
    browser.auto_csrf = False
    refused = browser.post(_url(evidence), json={"rating": "down"})
    assert refused.status_code == 400 and _stored(app, evidence) is None
    browser.auto_csrf = True
    assert browser.post(_url(evidence), json={"rating": "down"}).status_code == 200
    assert _stored(app, evidence) == ("down", "")


# -- admin review and export ------------------------------------------------------------------------
def test_admin_lists_low_rated_answers_with_their_sources(app: Any, pat: Any, bob: Any,
                                                          admin: Any) -> None:
    earlier = _ask(bob, "Who approves travel?")  # so the second page of down ratings exists
    bob.post(_url(earlier), json={"rating": "down"})
    down = _ask(bob, "What is the daily meal allowance for trips?")
    bob.post(_url(down), json={"rating": "down", "comment": "Missing the foreign rate."})
    up = _ask(bob, "How do I report a lost laptop?")
    bob.post(_url(up), json={"rating": "up"})

    resp = admin.get("/api/v1/admin/feedback?limit=1")
    assert resp.status_code == 200, resp.get_json()
    page = resp.get_json()
    assert (page["rating"], page["limit"], page["offset"]) == ("down", 1, 0)
    assert page["total"] >= 1 and len(page["items"]) == 1
    item = page["items"][0]
    assert (item["evidence_id"], item["username"], item["rating"]) == (down, "bob", "down")
    assert item["comment"] == "Missing the foreign rate."
    assert item["question"] == "What is the daily meal allowance for trips?" and item["answer"]
    assert item["cited"] and all(c["document"] and c["chunk_id"] for c in item["cited"])
    assert item["retrieved"]
    second = admin.get("/api/v1/admin/feedback?limit=1&offset=1").get_json()
    assert second["items"][0]["evidence_id"] != down
    ups = admin.get("/api/v1/admin/feedback?rating=up&limit=200").get_json()["items"]
    assert up in [i["evidence_id"] for i in ups]
    assert all(i["rating"] == "up" for i in ups)
    every = admin.get("/api/v1/admin/feedback?rating=all&limit=200").get_json()
    assert {down, up} <= {i["evidence_id"] for i in every["items"]}

    for query, field in (("limit=0", "limit"), ("limit=201", "limit"), ("offset=-1", "offset"),
                         ("rating=meh", "rating"), ("limit=abc", "limit")):
        out = _envelope(admin.get(f"/api/v1/admin/feedback?{query}"), 422)
        assert field in [f["field"] for f in out["fields"]], out
    _envelope(pat.get("/api/v1/admin/feedback"), 403)
    _envelope(pat.get("/api/v1/admin/feedback/export"), 403)


def test_admin_exports_csv_and_json_lines(app: Any, bob: Any, admin: Any) -> None:
    evidence = _ask(bob, "Who approves travel?")
    bob.post(_url(evidence), json={"rating": "down", "comment": "=cmd|' /C calc'!A0"})

    lines = admin.get("/api/v1/admin/feedback/export")
    assert lines.status_code == 200 and lines.mimetype == "application/x-ndjson"
    assert 'filename="enclave-feedback.jsonl"' in lines.headers["Content-Disposition"]
    rows = [json.loads(line) for line in lines.get_data(as_text=True).splitlines()]
    assert rows[0]["evidence_id"] == evidence and rows[0]["rating"] == "down"
    assert all(r["rating"] == "down" for r in rows)

    table = admin.get("/api/v1/admin/feedback/export?format=csv&rating=all")
    assert table.status_code == 200 and table.mimetype == "text/csv"
    parsed = list(csv.DictReader(io.StringIO(table.get_data(as_text=True))))
    mine = next(r for r in parsed if int(r["evidence_id"]) == evidence)
    assert mine["comment"].startswith("'=")  # a spreadsheet does not run it
    assert json.loads(mine["cited"])
    assert {r["rating"] for r in parsed} <= {"up", "down"}
    _envelope(admin.get("/api/v1/admin/feedback/export?format=xml"), 422)


def test_admin_page_lists_them_with_sources_and_export_links(app: Any, bob: Any) -> None:
    evidence = _ask(bob, "What is the meal allowance abroad?")
    bob.post(_url(evidence), json={"rating": "down", "comment": "<b>not bold</b>"})
    browser = app.test_client()
    assert login(browser, "admin", USER_PASSWORD).status_code == 302
    overview = browser.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/feedback"' in overview

    resp = browser.get("/admin/feedback")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    rows = table_rows(html, "feedback")
    row = next(r for r in rows if "What is the meal allowance abroad?" in r[4])
    assert row[1] == "bob" and "down" in row[2] and row[3] == "<b>not bold</b>"  # as text
    doc = lxml.html.fromstring(html)
    assert doc.xpath('//table[@id="feedback"]//a[starts-with(@href, "/sources/")]')
    assert doc.xpath('//a[@id="export-csv"]/@href') == ["/admin/feedback.csv?rating=down"]
    assert doc.xpath('//a[@id="export-jsonl"]/@href') == ["/admin/feedback.jsonl?rating=down"]
    assert "<b>not bold</b>" not in html  # escaped

    export = browser.get("/admin/feedback.csv?rating=down")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert str(evidence) in export.get_data(as_text=True)
    assert browser.get("/admin/feedback.jsonl").mimetype == "application/x-ndjson"
    assert browser.get("/admin/feedback?limit=0").status_code == 422
    assert browser.get("/admin/feedback?rating=up").status_code == 200

    reader = app.test_client()
    assert login(reader, "pat", USER_PASSWORD).status_code == 302
    assert reader.get("/admin/feedback").status_code == 403
    assert reader.get("/admin/feedback.csv").status_code == 403


def test_ask_page_has_labelled_feedback_controls(app: Any) -> None:
    browser = app.test_client()
    assert login(browser, "pat", USER_PASSWORD).status_code == 302
    doc = lxml.html.fromstring(browser.get("/").get_data(as_text=True))
    [box] = doc.xpath('//*[@id="feedback"]')
    assert box.get("hidden") is not None  # shown under a finished answer only
    for button_id, rating in (("thumbs-up", "up"), ("thumbs-down", "down")):
        [button] = doc.xpath(f'//button[@id="{button_id}"]')
        assert button.get("type") == "button" and button.get("data-rating") == rating
        assert button.get("aria-label") and button.get("aria-pressed") == "false"
    assert doc.xpath('//label[@for="feedback-comment"]')
    assert doc.xpath('//textarea[@id="feedback-comment"]/@maxlength') == ["2000"]


# -- the new routes, fuzzed against the OpenAPI document ------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_feedback_routes_fuzz(app: Any, pat: Any, mode: str) -> None:
    """The feedback operations, with every schemathesis check (as tests/web/test_api_fuzz.py)."""
    import schemathesis

    from tests.web.test_api_fuzz import _fuzz

    _ask(pat)  # so that some generated ids are answers (the admin's: a 404 all the same)
    headers = {"Authorization": f"Bearer {make_token(app, 'admin')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures, labels = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "feedback" not in operation.label:
            continue
        labels.append(operation.label)
        try:
            _fuzz(operation, schemathesis.GenerationMode(mode), headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert sorted(labels) == ["GET /api/v1/admin/feedback", "GET /api/v1/admin/feedback/export",
                              "POST /api/v1/answers/{evidence_id}/feedback"]
    assert not failures, "\n\n".join(failures)
