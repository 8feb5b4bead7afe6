"""Accounts, sessions, tokens, CSRF, cookies, login throttling, audit log and evidence records
(SECURITY.md rows 4-6 and 21), against the real app and catalog."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select, text

from tests.conftest import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    csrf_token_of,
    login,
    make_token,
    make_user,
)

pytestmark = pytest.mark.integration


def _db(app):  # type: ignore[no-untyped-def]
    return app.extensions["enclave"].stack.sessions()


def _grant(app, collection: str, group: str, level: str = "read") -> None:  # type: ignore[no-untyped-def]
    from retrieval.acl import grant_collection
    from retrieval.catalog import get_collection

    with _db(app) as db:
        grant_collection(db, get_collection(db, collection).id, group, level)  # type: ignore[arg-type]
        db.commit()


def _audit(app, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    from services.audit import audit_rows

    with _db(app) as db:
        return audit_rows(db, action=action)


# -- login, sessions -------------------------------------------------------------------------
def test_anonymous_is_sent_to_login_and_the_api_answers_401(anonymous_client) -> None:  # type: ignore[no-untyped-def]
    page = anonymous_client.get("/collections/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    api = anonymous_client.get("/api/v1/collections")
    assert api.status_code == 401 and "API token" in api.get_json()["error"]
    assert anonymous_client.get("/healthz").status_code == 200


def test_login_sets_hardened_cookie_and_logout_kills_the_copied_cookie(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    resp = login(client, "admin", ADMIN_PASSWORD)
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Lax"):
        assert flag in cookie, cookie
    stolen = client.get_cookie("enclave_session").value
    assert client.get("/api/v1/collections").status_code == 200
    client.post("/logout")
    # The old cookie value, replayed by someone who copied it, no longer logs in.
    thief = app.test_client()
    thief.set_cookie("enclave_session", stolen)
    assert thief.get("/api/v1/collections").status_code == 401
    assert [e["outcome"] for e in _audit(app, "logout")] == ["ok"]


def test_wrong_password_and_unknown_user_get_the_same_answer(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    a = login(client, "admin", "wrong-password-xyz")
    b = login(client, "nobody-here", "wrong-password-xyz")
    assert a.status_code == b.status_code == 401
    assert b"Wrong user name or password." in a.data and b"Wrong user name or password." in b.data
    assert [e["outcome"] for e in _audit(app, "login")][:2] == ["failed", "failed"]


def test_login_is_throttled_per_user_name(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    for _ in range(5):
        assert login(client, "admin", "wrong-password-xyz").status_code == 401
    blocked = login(client, "admin", ADMIN_PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert b"Too many failed attempts" in blocked.data
    assert any(e["outcome"] == "denied" for e in _audit(app, "login"))
    make_user(app, "someone", "reader")
    assert login(client, "someone", USER_PASSWORD).status_code == 302  # other names unaffected


def test_login_redirect_never_leaves_the_site(app) -> None:  # type: ignore[no-untyped-def]
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client = app.test_client()
        resp = client.post(f"/login?next={target}", data={"username": "admin",
                                                          "password": ADMIN_PASSWORD})
        assert resp.status_code == 302 and resp.headers["Location"] == "/", target


def test_password_change_ends_other_sessions(app) -> None:  # type: ignore[no-untyped-def]
    make_user(app, "pat", "reader")
    first, second = app.test_client(), app.test_client()
    login(first, "pat", USER_PASSWORD)
    login(second, "pat", USER_PASSWORD)
    weak = first.post("/account/password", data={"current": USER_PASSWORD, "new": "short",
                                                 "confirm": "short"})
    assert weak.status_code == 400 and b"at least 12 characters" in weak.data
    new = "a-much-better-passphrase-7"
    ok = first.post("/account/password", data={"current": USER_PASSWORD, "new": new,
                                               "confirm": new})
    assert ok.status_code == 200 and b"Password changed" in ok.data
    assert first.get("/api/v1/collections").status_code == 200  # this browser stays in
    assert second.get("/api/v1/collections").status_code == 401  # the other one is out
    assert login(app.test_client(), "pat", new).status_code == 302


def test_disabling_a_user_ends_sessions_and_tokens_at_once(app, client) -> None:  # type: ignore[no-untyped-def]
    make_user(app, "dana", "reader")
    dana = app.test_client()
    login(dana, "dana", USER_PASSWORD)
    token = make_token(app, "dana")
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert dana.get("/api/v1/collections").status_code == 200
    assert api.get("/api/v1/collections").status_code == 200
    resp = client.patch("/api/v1/admin/users/dana", json={"disabled": True})
    assert resp.status_code == 200 and resp.get_json()["disabled"] is True
    assert dana.get("/api/v1/collections").status_code == 401
    assert api.get("/api/v1/collections").status_code == 401
    assert login(app.test_client(), "dana", USER_PASSWORD).status_code == 401
    assert _audit(app, "user.disable")[0]["target"] == "dana"


def test_admin_cannot_lock_themselves_out(client) -> None:  # type: ignore[no-untyped-def]
    assert client.patch("/api/v1/admin/users/admin", json={"disabled": True}).status_code == 400
    assert client.patch("/api/v1/admin/users/admin", json={"role": "reader"}).status_code == 400


# -- tokens ------------------------------------------------------------------------------------
def test_api_token_is_hashed_at_rest_works_on_the_api_only_and_revokes(app, client) -> None:  # type: ignore[no-untyped-def]
    page = client.post("/account/tokens", data={"name": "laptop"})
    secret = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    with _db(app) as db:
        stored = db.execute(text("SELECT token_hash, prefix FROM api_tokens")).all()
    assert secret not in json.dumps([list(r) for r in stored])  # only the hash is kept
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    assert api.get("/api/v1/collections").status_code == 200
    assert api.get("/collections/").status_code == 302  # pages need a browser login
    # Token requests need no CSRF token (a cross-site page cannot send the header)...
    assert api.post("/api/v1/search", json={"query": "meal", "collection": "handbook"}
                    ).status_code == 200
    # ...and cannot mint tokens or change passwords.
    assert api.post("/account/tokens").status_code in (302, 401)
    from db.models import ApiToken

    with _db(app) as db:
        token_id = db.scalar(select(ApiToken.id))
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 200
    assert api.get("/api/v1/collections").status_code == 401
    assert "revoked" in api.get("/api/v1/collections").get_json()["error"]


# -- CSRF, headers, downloads ------------------------------------------------------------------
def test_state_changes_without_csrf_token_are_refused(app, client) -> None:  # type: ignore[no-untyped-def]
    client.auto_csrf = False
    for method, url, kwargs in [
        ("POST", "/api/v1/collections", {"json": {"name": "sneaky"}}),
        ("POST", "/collections/", {"data": {"name": "sneaky"}}),
        ("POST", "/admin/users", {"data": {"username": "mallory", "password": "x" * 20}}),
        ("POST", "/logout", {}),
    ]:
        resp = client.open(url, method=method, **kwargs)
        assert resp.status_code == 400, (url, resp.status_code)
        assert b"CSRF" in resp.data
    login_page = client.get("/account").get_data(as_text=True)
    token = csrf_token_of(login_page)
    ok = client.post("/api/v1/collections", json={"name": "fine"},
                     headers={"X-CSRFToken": token})
    assert ok.status_code == 201
    names = [c["name"] for c in client.get("/api/v1/collections").get_json()["collections"]]
    assert "sneaky" not in names and "fine" in names


def test_every_response_has_the_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", "/login", "/collections/", "/api/v1/collections", "/admin/", "/nope"):
        resp = client.get(url)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", url
        assert resp.headers["X-Frame-Options"] == "DENY", url
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"], url


def test_uploads_come_back_only_as_attachments(app, client) -> None:  # type: ignore[no-untyped-def]
    html = b"<html><script>alert(document.cookie)</script><p>The lunch rota is fixed.</p></html>"
    resp = client.post("/api/v1/collections/handbook/documents?wait=1",
                       data={"files": (io.BytesIO(html), "rota.html")},
                       content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    doc_id = resp.get_json()["results"][0]["document_id"]
    got = client.get(f"/api/v1/documents/{doc_id}/file")
    assert got.status_code == 200 and got.data == html
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.mimetype == "application/octet-stream"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]


# -- audit log, evidence -----------------------------------------------------------------------
def test_audit_log_records_changes_and_is_append_only(app, client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/v1/admin/users", json={"username": "erin", "password": USER_PASSWORD,
                                                    "groups": ["staff"]}).status_code == 201
    assert client.put("/api/v1/admin/collections/handbook/grants/staff",
                      json={"level": "read"}).status_code == 200
    docs = client.get("/api/v1/collections/handbook/documents").get_json()["documents"]
    doc = next(d for d in docs if d["name"] == "onboarding.md")
    assert client.delete(f"/api/v1/collections/handbook/documents/{doc['id']}").status_code == 204
    actions = [e["action"] for e in _audit(app, None)]  # type: ignore[arg-type]
    for expected in ("login", "user.create", "grant.change", "document.delete"):
        assert expected in actions
    grant = _audit(app, "grant.change")[0]
    assert grant["actor"] == "admin" and grant["target"] == "handbook:staff"
    assert grant["detail"] == {"before": None, "after": "read"}
    from sqlalchemy.exc import DatabaseError

    from db.models import AnswerRecord, Conversation

    with _db(app) as db:  # one evidence row, so the row triggers have something to refuse
        conv = Conversation(user_id=1, collection="handbook", title="t")
        db.add(conv)
        db.flush()
        db.add(AnswerRecord(user_id=1, username="admin", conversation_id=conv.id,
                            collection="handbook", question="q", answer="a"))
        db.commit()
    for sql in ("UPDATE audit_events SET actor = 'nobody'", "DELETE FROM audit_events",
                "UPDATE answer_records SET answer = 'x'", "DELETE FROM answer_records"):
        with _db(app) as db, pytest.raises(DatabaseError, match="append-only"):
            db.execute(text(sql))
            db.commit()
    csv_export = client.get("/admin/audit.csv")
    assert csv_export.status_code == 200 and csv_export.mimetype == "text/csv"
    assert csv_export.headers["Content-Disposition"].startswith("attachment;")
    assert "grant.change" in csv_export.get_data(as_text=True)


def test_csv_export_neutralises_formulas() -> None:
    from services.audit import to_csv

    out = to_csv([{"a": "=HYPERLINK(\"http://x\")", "b": "+1", "c": "fine"}], ("a", "b", "c"))
    assert "'=HYPERLINK" in out and "'+1" in out and ",fine" in out


def test_each_answer_leaves_an_evidence_record(app, client) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/api/v1/ask", json={"question": "What is the daily meal allowance?",
                                            "collection": "handbook"})
    assert resp.status_code == 200
    body = resp.get_json()
    evidence = client.get("/api/v1/admin/evidence").get_json()
    rec = next(r for r in evidence if r["id"] == body["evidence_id"])
    assert rec["username"] == "admin" and rec["question"] == "What is the daily meal allowance?"
    assert rec["answer"] == body["answer"] and rec["model_name"] == body["model"]
    assert re.fullmatch(r"[0-9a-f]{64}", rec["model_sha256"])  # the GGUF file's hash
    assert rec["retrieved"] and all(r["content_hash"] and r["version"] for r in rec["retrieved"])
    assert [c["chunk_id"] for c in rec["cited"]] == [c["chunk_id"] for c in body["citations"]]
    # The same conversation continues; somebody else's cannot be continued or read.
    again = client.post("/api/v1/ask", json={"question": "And the hotel limit?",
                                             "collection": "handbook",
                                             "conversation_id": body["conversation_id"]})
    assert again.get_json()["conversation_id"] == body["conversation_id"]
    conv = client.get(f"/api/v1/conversations/{body['conversation_id']}").get_json()
    assert [t["question"] for t in conv["turns"]] == ["What is the daily meal allowance?",
                                                      "And the hotel limit?"]


def test_login_throttle_is_shared_through_redis(handbook_copy) -> None:  # type: ignore[no-untyped-def]
    """Two app processes (here: two app instances) behind one address share the failed-login
    count when ``auth.rate_limit_storage`` points at the local Redis."""
    import uuid

    import redis

    from tests.conftest import _client_class, make_settings
    from web import create_app, start

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        import os

        if os.environ.get("CI"):
            pytest.fail(f"Redis is not running on 127.0.0.1:6379: {exc}")
        pytest.skip(f"Redis is not running on 127.0.0.1:6379: {exc}")
    auth = {"rate_limit_storage": "redis://127.0.0.1:6379",
            "login_rate_limit_ip": "1000 per minute"}
    apps = [start(create_app(make_settings(handbook_copy, auth=auth))) for _ in range(2)]
    try:
        for a in apps:
            a.test_client_class = _client_class()
        name = f"victim-{uuid.uuid4().hex[:8]}"
        first, second = apps[0].test_client(), apps[1].test_client()
        for i in range(5):
            client = first if i % 2 else second
            assert login(client, name, "wrong-password-xyz").status_code == 401
        assert login(first, name, "wrong-password-xyz").status_code == 429
        assert login(second, name, "wrong-password-xyz").status_code == 429
    finally:
        for a in apps:
            a.extensions["enclave"].close()
