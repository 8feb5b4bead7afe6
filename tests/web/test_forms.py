"""The pages' forms are checked against typed schemas: a malformed form changes nothing and
the page says why (422), like the JSON API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import USER_PASSWORD, make_user

pytestmark = pytest.mark.integration


def _users(app: Any) -> dict[str, tuple[str, bool, set[str]]]:
    from sqlalchemy import select

    from db.models import User
    from services.accounts import user_groups

    with app.extensions["enclave"].stack.sessions() as db:
        return {u.username: (u.role, u.disabled, user_groups(db, u.id))
                for u in db.scalars(select(User))}


def _grants(app: Any) -> dict[str, str]:
    from retrieval.acl import collection_grants
    from retrieval.catalog import get_collection

    with app.extensions["enclave"].stack.sessions() as db:
        return collection_grants(db, get_collection(db, "handbook").id)


@pytest.mark.parametrize("form", [
    {"username": "bad\x00name", "password": USER_PASSWORD},  # NUL
    {"username": "x" * 300, "password": USER_PASSWORD},  # too long
    {"username": "newbie", "password": USER_PASSWORD, "role": "superuser"},  # unknown role
    {"username": "newbie", "password": USER_PASSWORD, "groups": "staff,bad\x00group"},
    {"password": USER_PASSWORD},  # no user name
    {"username": "newbie"},  # no password
])
def test_malformed_create_user_form_changes_nothing(app, client, form: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    before = _users(app)
    resp = client.post("/admin/users", data=form)
    assert resp.status_code == 422, resp.status_code
    assert "The form is not valid" in resp.get_data(as_text=True)
    assert _users(app) == before


@pytest.mark.parametrize("form", [
    {"role": "owner"},
    {"disabled": "maybe"},
    {"groups": "staff,\x00"},
    {"role": "admin", "groups": "x" * 300},  # a valid role with bad groups changes neither
])
def test_malformed_update_user_form_changes_nothing(app, client, form: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    make_user(app, "rita", "reader", ("staff",))
    before = _users(app)
    resp = client.post("/admin/users/rita", data=form)
    assert resp.status_code == 422
    assert "The form is not valid" in resp.get_data(as_text=True)
    assert _users(app) == before
    ok = client.post("/admin/users/rita", data={"role": "curator"})  # a valid form still works
    assert ok.status_code == 302 and _users(app)["rita"][0] == "curator"


@pytest.mark.parametrize("form", [
    {"collection": "handbook", "group": "staff", "level": "owner"},
    {"collection": "../handbook", "group": "staff", "level": "read"},
    {"collection": "handbook", "group": "", "level": "read"},
    {"collection": "handbook", "level": "read"},
])
def test_malformed_grant_form_changes_nothing(app, client, form: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    before = _grants(app)
    resp = client.post("/admin/grants", data=form)
    assert resp.status_code == 422
    assert _grants(app) == before


def test_malformed_token_and_password_forms(app, client) -> None:  # type: ignore[no-untyped-def]
    from services.accounts import get_user, list_tokens

    def tokens() -> int:
        with app.extensions["enclave"].stack.sessions() as db:
            return len(list_tokens(db, get_user(db, "admin").id))

    n = tokens()
    resp = client.post("/account/tokens", data={"name": "laptop\x00"})
    assert resp.status_code == 422 and tokens() == n
    resp = client.post("/account/password", data={"current": "x"})  # new/confirm missing
    assert resp.status_code == 422 and "The form is not valid" in resp.get_data(as_text=True)


def test_login_form_with_a_huge_password_is_refused_unhashed(app) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    resp = c.post("/login", data={"username": "admin", "password": "x" * 5000})
    assert resp.status_code == 422
    assert "The form is not valid" in resp.get_data(as_text=True)
