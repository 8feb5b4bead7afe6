"""LDAP login through the web app against a real slapd on loopback: directory groups become
Enclave groups at every login, roles come from directory groups, and a local account of the
same name is never taken over."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import USER_PASSWORD, _client_class, login, make_settings, make_user
from tests.services.slapd import Slapd, group_dn, slapd, user_dn  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def ldap_app(handbook_copy: Path, slapd: Slapd):  # type: ignore[no-untyped-def]  # noqa: F811
    from retrieval.acl import grant_collection
    from retrieval.catalog import get_collection
    from web import create_app, start

    cfg = slapd.settings(group_map={"hr": "hr", "finance": "finance"},
                         admin_groups=["enclave-admins"], curator_groups=["curators"])
    app = start(create_app(make_settings(handbook_copy, auth={"ldap": cfg.model_dump()})))
    app.config["TESTING"] = True
    app.test_client_class = _client_class()
    with app.extensions["enclave"].stack.sessions() as db:
        grant_collection(db, get_collection(db, "handbook").id, "hr", "read")
        db.commit()
    yield app
    app.extensions["enclave"].close()



def test_ldap_user_logs_in_with_directory_groups_and_role(ldap_app, slapd: Slapd) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = ldap_app.test_client()
    assert login(client, "alice", slapd.password("alice")).status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "directory (LDAP)" in page and "curator" in page and ">hr<" in page
    search = client.post("/api/v1/search", json={"query": "meal allowance", "collection": "handbook"})
    assert search.status_code == 200 and search.get_json()["hits"]
    carol = ldap_app.test_client()
    assert login(carol, "carol", slapd.password("carol")).status_code == 302
    assert carol.get("/api/v1/admin/users").status_code == 200  # enclave-admins -> admin
    bob = ldap_app.test_client()  # finance only: cannot read the handbook
    assert login(bob, "bob", slapd.password("bob")).status_code == 302
    assert bob.post("/api/v1/search", json={"query": "meal", "collection": "handbook"}
                    ).status_code == 404


def test_directory_group_removal_applies_at_next_login(ldap_app, slapd: Slapd) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from ldap3 import MODIFY_ADD, MODIFY_DELETE

    client = ldap_app.test_client()
    assert login(client, "alice", slapd.password("alice")).status_code == 302
    assert client.get("/api/v1/collections/handbook/documents").status_code == 200
    placeholder = f"cn=placeholder,{slapd.base}"  # groupOfNames needs at least one member
    conn = slapd.admin_connection()
    try:
        conn.modify(group_dn("hr"), {"member": [(MODIFY_ADD, [placeholder]),
                                                (MODIFY_DELETE, [user_dn("alice")])]})
        again = ldap_app.test_client()
        assert login(again, "alice", slapd.password("alice")).status_code == 302
        assert again.get("/api/v1/collections/handbook/documents").status_code == 404
    finally:
        conn.modify(group_dn("hr"), {"member": [(MODIFY_ADD, [user_dn("alice")]),
                                                (MODIFY_DELETE, [placeholder])]})
        conn.unbind()
    with ldap_app.extensions["enclave"].stack.sessions() as db:
        from services.audit import audit_rows

        sync = audit_rows(db, action="ldap.sync")
    assert any(e["detail"]["groups_removed"] == ["hr"] for e in sync)


def test_wrong_directory_password_and_local_name_clash(ldap_app, slapd: Slapd) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = ldap_app.test_client()
    assert login(client, "alice", "not-her-password").status_code == 401
    assert login(client, "alice", "").status_code == 401  # never an unauthenticated bind
    make_user(ldap_app, "bob", "reader", password=USER_PASSWORD)  # a local "bob" exists
    assert login(client, "bob", slapd.password("bob")).status_code == 401
    assert login(client, "bob", USER_PASSWORD).status_code == 302


def test_unreachable_directory_says_so(handbook_copy: Path, slapd: Slapd) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    import socket

    from web import create_app, start

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = slapd.settings(url=f"ldap://127.0.0.1:{port}", timeout_s=1)
    app = start(create_app(make_settings(handbook_copy, auth={"ldap": cfg.model_dump()})))
    app.test_client_class = _client_class()
    try:
        resp = login(app.test_client(), "alice", slapd.password("alice"))
        assert resp.status_code == 401
        assert b"directory server cannot be reached" in resp.data
    finally:
        app.extensions["enclave"].close()
