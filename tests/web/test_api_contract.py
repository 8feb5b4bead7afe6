"""The API contract (issue 10): every body is checked against a typed schema, with one
error envelope; a malformed request that touches access changes nothing.

Each class of the hostile probe has a test here that failed on the code before it: an
unparseable body lifting a restriction, 64-bit overflow in ids, non-finite numbers, JSON
nested too deep, and wrong types silently coerced to strings.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import USER_PASSWORD, _client_class, make_settings, make_token, make_user

pytestmark = pytest.mark.integration

BIG = "99999999999999999999"  # > 2**63-1
# Malformed bodies for every state change that touches access: raw bytes + content type.
TRUNCATED = ('{"groups": ["nurses"', "application/json")
EMPTY = ("", "application/json")
NOT_JSON_TYPE = ('{"groups": []}', "text/plain")
NON_OBJECT = ("[]", "application/json")
BROKEN_BODIES = [TRUNCATED, EMPTY, NOT_JSON_TYPE, NON_OBJECT, ("null", "application/json"),
                 ('{"groups": []', "application/json"), ("{'groups': []}", "application/json")]


@pytest.fixture(scope="module")
def app(handbook_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from retrieval.acl import get_or_create_group, grant_collection
    from retrieval.catalog import get_collection
    from web import create_app, start

    data = tmp_path_factory.mktemp("contract") / "data"
    shutil.copytree(handbook_dir, data)
    application = start(create_app(make_settings(data, generation={"mode": "extractive"})))
    application.config["TESTING"] = True
    application.test_client_class = _client_class()
    make_user(application, "admin", "admin")
    make_user(application, "nurse", "reader", ("nurses",))
    with application.extensions["enclave"].stack.sessions() as db:
        for group in ("nurses", "staff"):
            get_or_create_group(db, group)
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        db.commit()
    yield application
    application.extensions["enclave"].close()


@pytest.fixture(scope="module")
def api(app: Any) -> Any:
    """A client authenticated with the admin's API token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app, 'admin')}"
    return client


def _send(api: Any, method: str, path: str, raw: str, content_type: str) -> Any:
    return api.open(path, method=method, data=raw.encode(), content_type=content_type)


def _assert_envelope(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert isinstance(body, dict) and body["status"] == status and body["error"], body
    return body


def _doc_id(app: Any) -> int:
    from sqlalchemy import select

    from db.models import Document

    with app.extensions["enclave"].stack.sessions() as db:
        return db.scalar(select(Document.id).where(Document.name == "travel-and-expenses.pdf"))


def _restriction(app: Any, doc_id: int) -> set[str]:
    from retrieval.acl import document_restrictions

    with app.extensions["enclave"].stack.sessions() as db:
        return document_restrictions(db, doc_id)


# -- access changes fail closed -----------------------------------------------------------------
def test_unparseable_body_never_lifts_a_restriction(app: Any, api: Any) -> None:
    doc = _doc_id(app)
    ok = api.put(f"/api/v1/documents/{doc}/restrictions", json={"groups": ["nurses"]})
    assert ok.status_code == 200 and _restriction(app, doc) == {"nurses"}
    for raw, ctype in BROKEN_BODIES + [('{"groups": "nurses"}', "application/json"),
                                       ('{"groups": [1]}', "application/json"),
                                       ('{"groups": null}', "application/json"),
                                       ('{}', "application/json"),
                                       ('{"groups": [], "extra": 1}', "application/json"),
                                       ('{"groups": ["no-such-group"]}', "application/json"),
                                       ('{"groups": ["nur\\u0000ses"]}', "application/json")]:
        resp = _send(api, "PUT", f"/api/v1/documents/{doc}/restrictions", raw, ctype)
        assert 400 <= resp.status_code < 500, (raw, resp.status_code)
        _assert_envelope(resp, resp.status_code)
        assert _restriction(app, doc) == {"nurses"}, f"{raw!r} changed the restriction"
    # The nurse still reads it, a staff member still does not: nothing was lifted.
    lifted = api.put(f"/api/v1/documents/{doc}/restrictions", json={"groups": []})
    assert lifted.status_code == 200 and _restriction(app, doc) == set()


def test_truncated_body_is_a_400_naming_the_json_error(api: Any, app: Any) -> None:
    body = _assert_envelope(_send(api, "PUT", f"/api/v1/documents/{_doc_id(app)}/restrictions",
                                  *TRUNCATED), 400)
    assert "not valid JSON" in body["error"]


def _grants(app: Any) -> dict[str, str]:
    from retrieval.acl import collection_grants
    from retrieval.catalog import get_collection

    with app.extensions["enclave"].stack.sessions() as db:
        return collection_grants(db, get_collection(db, "handbook").id)


def test_malformed_grant_changes_change_nothing(app: Any, api: Any) -> None:
    url = "/api/v1/admin/collections/handbook/grants/nurses"
    before = _grants(app)
    for raw, ctype in BROKEN_BODIES + [('{"level": "owner"}', "application/json"),
                                       ('{"level": ["read"]}', "application/json"),
                                       ('{}', "application/json"),
                                       ('{"level": "read", "x": 1}', "application/json")]:
        resp = _send(api, "PUT", url, raw, ctype)
        assert 400 <= resp.status_code < 500, (raw, resp.status_code)
        assert _grants(app) == before, f"{raw!r} changed the grants"
    # A revoke with a garbage body is refused too, and leaves the grant in place.
    resp = _send(api, "DELETE", "/api/v1/admin/collections/handbook/grants/staff", *TRUNCATED)
    _assert_envelope(resp, 400)
    assert _grants(app)["staff"] == "read"


def _user_state(app: Any, name: str) -> tuple[str, bool, set[str], str]:
    from services.accounts import get_user, user_groups

    with app.extensions["enclave"].stack.sessions() as db:
        user = get_user(db, name)
        return user.role, user.disabled, user_groups(db, user.id), user.password_hash


def test_malformed_user_changes_change_nothing(app: Any, api: Any) -> None:
    before = _user_state(app, "nurse")
    for raw, ctype in BROKEN_BODIES + [
        ('{"role": "root"}', "application/json"),
        ('{"role": "admin", "groups": "staff"}', "application/json"),  # valid role, bad groups
        ('{"role": "admin", "disabled": "yes"}', "application/json"),
        ('{"groups": ["staff"], "password": 12345678901234}', "application/json"),
        ('{"groups": ["staff"], "unknown": true}', "application/json"),
        ('{"groups": ["st\\u0000aff"]}', "application/json"),
    ]:
        resp = _send(api, "PATCH", "/api/v1/admin/users/nurse", raw, ctype)
        assert 400 <= resp.status_code < 500, (raw, resp.status_code, resp.get_data(as_text=True))
        assert _user_state(app, "nurse") == before, f"{raw!r} changed the user"
    for raw in ('{"username": "mallory", "password": "' + USER_PASSWORD + '", "role": "boss"}',
                '{"username": ["mallory"], "password": "' + USER_PASSWORD + '"}',
                '{"username": "mallory"}', '{"username": "mallory", "password": "'):
        resp = _send(api, "POST", "/api/v1/admin/users", raw, "application/json")
        assert 400 <= resp.status_code < 500, raw
    assert api.get("/api/v1/admin/users").get_json()["users"], "listing still works"
    assert "mallory" not in {u["username"] for u in api.get("/api/v1/admin/users").get_json()["users"]}


def test_restrict_form_without_the_groups_field_changes_nothing(app: Any, api: Any) -> None:
    from tests.conftest import login

    doc = _doc_id(app)
    assert api.put(f"/api/v1/documents/{doc}/restrictions",
                          json={"groups": ["nurses"]}).status_code == 200
    browser = app.test_client()
    assert login(browser, "admin", USER_PASSWORD).status_code == 302
    url = f"/collections/handbook/documents/{doc}/restrict"
    for form in ({}, {"groups": "no-such-group"}, {"groups": "nurses\x00"}):
        resp = browser.post(url, data=form)
        assert resp.status_code == 422, (form, resp.status_code)
        assert 'id="form-error"' in resp.get_data(as_text=True)
        assert _restriction(app, doc) == {"nurses"}, f"{form!r} changed the restriction"
    assert browser.post(url, data={"groups": ""}).status_code == 302
    assert _restriction(app, doc) == set()


# -- 64-bit overflow, non-finite numbers, deep nesting, wrong types ------------------------------
@pytest.mark.parametrize("path", [
    f"/api/v1/documents/{BIG}", f"/api/v1/documents/{BIG}/file", f"/api/v1/chunks/{BIG}",
    f"/api/v1/conversations/{BIG}", f"/api/v1/jobs/{BIG}", "/api/v1/documents/0",
    f"/sources/{BIG}", f"/api/v1/documents/{2**63}",
])
def test_path_ids_out_of_range_are_404(api: Any, path: str) -> None:
    resp = api.get(path)
    if path.startswith("/api/"):
        _assert_envelope(resp, 404)
    assert resp.status_code == 404
    assert api.get("/api/v1/documents/123456789").status_code == 404  # unknown: the same status


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("conversation", [BIG, str(2**63), "0"])
def test_out_of_range_id_is_404_for_every_method_of_a_path(api: Any, method: str,
                                                            conversation: str) -> None:
    """Not a 405 from the path's GET route: the id's range is in the route's pattern."""
    resp = api.open(f"/api/v1/conversations/{conversation}", method=method,
                    json={"title": "t"} if method == "PATCH" else None)
    _assert_envelope(resp, 404)


def test_id_pattern_is_exactly_1_to_max() -> None:
    import random
    import re

    from web.schemas import MAX_ID
    from web.validation import at_most

    for limit in (1, 9, 10, 305, 1000):
        pattern = re.compile(at_most(limit) + r"\Z")
        assert [k for k in range(0, 1200) if pattern.match(str(k))] == list(range(1, limit + 1))
    pattern = re.compile(at_most(MAX_ID) + r"\Z")
    rng = random.Random(7)
    for n in [MAX_ID, MAX_ID + 1, 10**18, 10**19, 2**63 - 10, *(rng.randrange(1, 10**20)
                                                                   for _ in range(20_000))]:
        assert bool(pattern.match(str(n))) == (n <= MAX_ID), n
    assert not pattern.match("0") and not pattern.match("007")


def test_ids_out_of_range_in_bodies_are_422(api: Any) -> None:
    ask = {"question": "What is the meal allowance?", "collection": "handbook"}
    for body, field in (({**ask, "conversation_id": int(BIG)}, "conversation_id"),
                        ({**ask, "conversation_id": 0}, "conversation_id"),
                        ({"query": "meal", "collection": "handbook",
                          "filters": {"document_ids": [int(BIG)]}}, "filters.document_ids[0]")):
        url = "/api/v1/ask" if "question" in body else "/api/v1/search"
        out = _assert_envelope(api.post(url, json=body), 422)
        assert field in [f["field"] for f in out["fields"]], out


@pytest.mark.parametrize("raw", ['{"query": "meal", "collection": "handbook", "k": 1e999}',
                                 '{"query": "meal", "collection": "handbook", "k": NaN}',
                                 '{"query": "meal", "collection": "handbook", "k": Infinity}',
                                 '{"query": "meal", "collection": "handbook", "k": -Infinity}',
                                 '{"query": "meal", "collection": "handbook", "k": 1' + "0" * 5000 + "}"])
def test_non_finite_and_huge_numbers_are_400(api: Any, raw: str) -> None:
    _assert_envelope(_send(api, "POST", "/api/v1/search", raw, "application/json"), 400)


def test_deep_nesting_is_refused_before_decoding(api: Any) -> None:
    for raw in ("[" * 50_000 + "]" * 50_000, '{"query": ' + "[" * 100_000,
                '{"query": "a", "collection": "handbook", "filters": ' + '{"a":' * 40 + "1" + "}" * 41):
        started = time.perf_counter()
        body = _assert_envelope(_send(api, "POST", "/api/v1/search", raw, "application/json"), 400)
        assert "nested" in body["error"]
        assert time.perf_counter() - started < 30  # refused, not decoded (a loose bound)
    # Brackets inside strings do not count.
    ok = api.post("/api/v1/search", json={"query": "[" * 100 + " meal", "collection": "handbook"})
    assert ok.status_code == 200


@pytest.mark.parametrize(("url", "field", "value"), [
    ("/api/v1/ask", "question", ["What", "is", "it"]),
    ("/api/v1/ask", "question", {"text": "What is it?"}),
    ("/api/v1/ask", "question", 42),
    ("/api/v1/ask", "collection", ["handbook"]),
    ("/api/v1/ask", "stream", "yes"),
    ("/api/v1/ask", "k", "5"),
    ("/api/v1/ask", "k", True),
    ("/api/v1/ask", "k", 2.5),
    ("/api/v1/search", "query", ["meal", "allowance"]),
    ("/api/v1/search", "query", {"q": "meal"}),
    ("/api/v1/search", "filters", ["document_ids"]),
    ("/api/v1/search", "filters", {"updated_after": 20240101}),
    ("/api/v1/search", "filters", {"updated_after": "yesterday"}),
])
def test_wrong_types_are_422_not_coerced(api: Any, url: str, field: str, value: Any) -> None:
    base = ({"question": "What is the meal allowance?", "collection": "handbook"}
            if url.endswith("ask") else {"query": "meal allowance", "collection": "handbook"})
    out = _assert_envelope(api.post(url, json={**base, field: value}), 422)
    assert any(f["field"].split(".")[0].split("[")[0] == field for f in out["fields"]), out


@pytest.mark.parametrize(("body", "field"), [
    ({"question": "x" * 2001, "collection": "handbook"}, "question"),
    ({"question": "What is\x00 it?", "collection": "handbook"}, "question"),
    ({"question": "   ", "collection": "handbook"}, "question"),
    ({"question": "What?", "collection": "hand book"}, "collection"),
    ({"question": "What?", "collections": []}, "collections"),  # none at all: every one
    ({"question": "What?", "collections": ["hand book"]}, "collections[0]"),
    ({"question": "What?", "collection": "handbook", "k": 0}, "k"),
    ({"question": "What?", "collection": "handbook", "k": 101}, "k"),
    ({"question": "What?", "collection": "handbook", "temperature": 2}, "temperature"),
])
def test_schema_errors_name_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    out = _assert_envelope(api.post("/api/v1/ask", json=body), 422)
    assert field in [f["field"] for f in out["fields"]], out
    assert all(f["message"] and f["type"] for f in out["fields"])


def test_body_transport_errors(api: Any, app: Any) -> None:
    ask = '{"question": "What is the meal allowance?", "collection": "handbook"}'
    _assert_envelope(_send(api, "POST", "/api/v1/ask", ask, "text/plain"), 415)
    _assert_envelope(_send(api, "POST", "/api/v1/ask", "", "application/json"), 422)
    _assert_envelope(api.post("/api/v1/ask"), 422)  # no body, no content type
    _assert_envelope(_send(api, "POST", "/api/v1/ask", '"a string"', "application/json"), 400)
    limit = app.extensions["enclave"].settings.web.max_json_kb * 1024
    huge = '{"question": "' + "a" * limit + '", "collection": "handbook"}'
    _assert_envelope(_send(api, "POST", "/api/v1/ask", huge, "application/json"), 413)
    _assert_envelope(api.get("/api/v1/search?query=meal&collection=handbook&k=abc"), 422)
    _assert_envelope(api.get("/api/v1/search?query=meal&collection=handbook&k=" + BIG), 422)
    _assert_envelope(api.get("/api/v1/search?query=me%00al&collection=handbook"), 422)
    _assert_envelope(api.get("/api/v1/admin/evidence?format=xml"), 422)


def test_valid_requests_still_work(api: Any) -> None:
    hits = api.get("/api/v1/search?query=meal+allowance&collection=handbook&k=3")
    assert hits.status_code == 200 and len(hits.get_json()["hits"]) == 3
    filtered = api.post("/api/v1/search", json={
        "query": "meal allowance", "collection": "handbook", "k": 5,
        "filters": {"file_types": ["pdf"], "updated_after": "2000-01-01T00:00:00Z"}})
    assert filtered.status_code == 200
    assert {h["document"] for h in filtered.get_json()["hits"]} <= {"travel-and-expenses.pdf"}
    answer = api.post("/api/v1/ask", json={"question": "What is the daily meal allowance?",
                                           "collection": "handbook", "k": 3})
    assert answer.status_code == 200 and answer.get_json()["conversation_id"]
    again = api.post("/api/v1/ask", json={"question": "And for trips abroad?",
                                          "collection": "handbook",
                                          "conversation_id": answer.get_json()["conversation_id"]})
    assert again.status_code == 200


def test_k_above_the_configured_maximum_is_422(handbook_dir: Path, tmp_path: Path) -> None:
    from web import create_app, start

    data = tmp_path / "data"
    shutil.copytree(handbook_dir, data)
    app = start(create_app(make_settings(data, web={"max_k": 5}, generation={"mode": "extractive"})))
    try:
        make_user(app, "admin", "admin")
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app, 'admin')}"
        out = _assert_envelope(client.post("/api/v1/search", json={
            "query": "meal", "collection": "handbook", "k": 6}), 422)
        assert out["fields"][0]["field"] == "k" and "web.max_k" in out["fields"][0]["message"]
        assert client.post("/api/v1/search", json={"query": "meal", "collection": "handbook",
                                                   "k": 5}).status_code == 200
    finally:
        app.extensions["enclave"].close()
