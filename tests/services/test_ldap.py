"""LDAP login against a real, throw-away slapd (see tests/services/slapd.py)."""

from __future__ import annotations

import socket
import time

import pytest
from ldap3.utils.dn import escape_rdn

from services.ldap import LdapIdentity, LdapUnavailable, ldap_authenticate
from tests.services.slapd import (
    Slapd,
    group_dn,
    slapd,  # noqa: F401  (the fixture)
    user_dn,
)

pytestmark = pytest.mark.integration


def test_correct_password_gives_identity(slapd: Slapd) -> None:  # noqa: F811
    identity = ldap_authenticate(slapd.settings(), "alice", "alice-password-1")
    assert identity == LdapIdentity(
        username="alice",
        dn=user_dn("alice"),
        display_name="Alice Liddell",
        groups=frozenset({"hr", "curators"}),
        role="reader",
    )


def test_username_is_the_directory_value_lowercased(slapd: Slapd) -> None:  # noqa: F811
    identity = ldap_authenticate(slapd.settings(), "  BoB ", "bob-password-22")
    assert identity is not None
    assert identity.username == "bob"
    assert identity.dn == user_dn("bob")
    assert identity.groups == frozenset({"finance"})


def test_display_name_attribute(slapd: Slapd) -> None:  # noqa: F811
    identity = ldap_authenticate(slapd.settings(display_name_attribute="mail"), "bob", "bob-password-22")
    assert identity is not None and identity.display_name == "bob@example.org"


def test_group_map_maps_and_drops_unmapped(slapd: Slapd) -> None:  # noqa: F811
    cfg = slapd.settings(group_map={"hr": "people-team", "finance": "money"})
    alice = ldap_authenticate(cfg, "alice", "alice-password-1")
    assert alice is not None and alice.groups == frozenset({"people-team"})  # curators dropped
    carol = ldap_authenticate(cfg, "carol", "carol-password-3")
    assert carol is not None and carol.groups == frozenset()


def test_roles_from_ldap_group_names(slapd: Slapd) -> None:  # noqa: F811
    # roles are checked on the LDAP names, even when group_map renames or drops them
    cfg = slapd.settings(
        admin_groups=["enclave-admins"], curator_groups=["curators"], group_map={"hr": "people-team"}
    )
    roles = {
        uid: ldap_authenticate(cfg, uid, slapd.password(uid)) for uid in ("alice", "bob", "carol")
    }
    assert {uid: ident.role for uid, ident in roles.items() if ident} == {
        "alice": "curator", "bob": "reader", "carol": "admin",
    }
    assert roles["carol"] is not None and roles["carol"].groups == frozenset()


def test_admin_wins_over_curator(slapd: Slapd) -> None:  # noqa: F811
    cfg = slapd.settings(admin_groups=["HR"], curator_groups=["curators"])  # case-insensitive
    identity = ldap_authenticate(cfg, "alice", "alice-password-1")
    assert identity is not None and identity.role == "admin"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong-password"),
        ("alice", "bob-password-22"),  # another user's password
        ("alice", "ALICE-PASSWORD-1"),
        ("alice", ""),  # the server accepts "DN + empty password" (unauthenticated bind)
        ("dave", ""),
        ("dave", "anything-at-all"),  # entry without userPassword
        ("nobody", "alice-password-1"),
        ("", "alice-password-1"),
    ],
)
def test_refused_logins(slapd: Slapd, username: str, password: str) -> None:  # noqa: F811
    assert ldap_authenticate(slapd.settings(), username, password) is None


def test_server_really_allows_unauthenticated_bind(slapd: Slapd) -> None:  # noqa: F811
    """The empty-password cases above only prove something if the server would let them in."""
    from ldap3 import Connection, Server
    from ldap3.protocol.rfc4511 import AuthenticationChoice, BindRequest, Simple, Version

    # ldap3's bind() refuses an empty password; send the raw request as a careless client would
    request = BindRequest()
    request["version"] = Version(3)
    request["name"] = user_dn("alice")
    request["authentication"] = AuthenticationChoice().setComponentByName("simple", Simple(""))
    conn = Connection(Server(slapd.url, connect_timeout=5), receive_timeout=5)
    conn.open()
    try:
        response = conn.post_send_single_response(conn.send("bindRequest", request, None))
        assert response[0]["result"] == 0  # success: anonymous access under alice's name
    finally:
        conn.unbind()


@pytest.mark.parametrize(
    "username",
    [
        "*",
        "a*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice)(|(objectClass=*)",
        "*)(uid=*))(|(uid=*",
        "alice\\2a",
        "alice\x00",
        "ali\nce",
        "ali\u200bce",  # zero-width space (format character)
        "a" * 201,
    ],
)
def test_filter_injection_and_odd_usernames(slapd: Slapd, username: str) -> None:  # noqa: F811
    for uid in ("alice", "bob"):
        assert ldap_authenticate(slapd.settings(), username, slapd.password(uid)) is None


def test_username_rules_apply_even_to_existing_entries(slapd: Slapd) -> None:  # noqa: F811
    from ldap3 import HASHED_SALTED_SHA
    from ldap3.utils.hashed import hashed

    password = "odd-user-password-5"
    uids = {"y" * 200: True, "x" * 201: False, "zero\u200bwidth": False, "tab\there": False}
    conn = slapd.admin_connection()
    try:
        for uid in uids:
            conn.add(
                user_dn(escape_rdn(uid)), ["inetOrgPerson"],
                {"uid": uid, "cn": "Odd", "sn": "Odd", "userPassword": hashed(HASHED_SALTED_SHA, password)},
            )
        got = {uid: ldap_authenticate(slapd.settings(), uid, password) is not None for uid in uids}
    finally:
        for uid in uids:
            conn.delete(user_dn(escape_rdn(uid)))
        conn.unbind()
    assert got == uids


def test_more_than_one_matching_entry_is_refused(slapd: Slapd) -> None:  # noqa: F811
    # a filter that (wrongly) matches every person: the user cannot be told apart
    cfg = slapd.settings(user_filter="(|(uid={username})(objectClass=inetOrgPerson))")
    for uid in ("alice", "bob", "carol"):  # whichever entry the server happens to list first
        assert ldap_authenticate(cfg, uid, slapd.password(uid)) is None


def test_anonymous_service_search(slapd: Slapd) -> None:  # noqa: F811
    identity = ldap_authenticate(slapd.settings(bind_dn=None, bind_password=None), "bob", "bob-password-22")
    assert identity is not None and identity.groups == frozenset({"finance"})


def test_group_filter_with_username(slapd: Slapd) -> None:  # noqa: F811
    cfg = slapd.settings(
        group_filter="(&(objectClass=groupOfNames)(member=uid={username},ou=people,dc=example,dc=org))"
    )
    identity = ldap_authenticate(cfg, "alice", "alice-password-1")
    assert identity is not None and identity.groups == frozenset({"hr", "curators"})


def test_group_change_in_directory_is_seen_on_next_login(slapd: Slapd) -> None:  # noqa: F811
    from ldap3 import MODIFY_ADD, MODIFY_DELETE

    cfg = slapd.settings()
    before = ldap_authenticate(cfg, "alice", "alice-password-1")
    assert before is not None and "hr" in before.groups
    placeholder = f"cn=placeholder,{slapd.base}"  # groupOfNames needs at least one member
    conn = slapd.admin_connection()
    try:
        conn.modify(
            group_dn("hr"),
            {"member": [(MODIFY_ADD, [placeholder]), (MODIFY_DELETE, [user_dn("alice")])]},
        )
        after = ldap_authenticate(cfg, "alice", "alice-password-1")
        assert after is not None and after.groups == frozenset({"curators"})
    finally:
        conn.modify(
            group_dn("hr"),
            {"member": [(MODIFY_ADD, [user_dn("alice")]), (MODIFY_DELETE, [placeholder])]},
        )
        conn.unbind()
    restored = ldap_authenticate(cfg, "alice", "alice-password-1")
    assert restored is not None and restored.groups == frozenset({"hr", "curators"})


def test_password_change_in_directory(slapd: Slapd) -> None:  # noqa: F811
    from ldap3 import HASHED_SALTED_SHA, MODIFY_REPLACE
    from ldap3.utils.hashed import hashed

    cfg = slapd.settings()
    conn = slapd.admin_connection()
    try:
        conn.modify(
            user_dn("bob"), {"userPassword": [(MODIFY_REPLACE, [hashed(HASHED_SALTED_SHA, "new-pw-4567")])]}
        )
        assert ldap_authenticate(cfg, "bob", "bob-password-22") is None
        assert ldap_authenticate(cfg, "bob", "new-pw-4567") is not None
    finally:
        conn.modify(
            user_dn("bob"),
            {"userPassword": [(MODIFY_REPLACE, [hashed(HASHED_SALTED_SHA, "bob-password-22")])]},
        )
        conn.unbind()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_raises_quickly(slapd: Slapd) -> None:  # noqa: F811
    secret = "service-secret-987"
    cfg = slapd.settings(url=f"ldap://127.0.0.1:{_closed_port()}", bind_password=secret, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(LdapUnavailable) as info:
        ldap_authenticate(cfg, "alice", "alice-password-1")
    assert time.monotonic() - started < 3
    message = str(info.value)
    assert "127.0.0.1" in message
    assert secret not in message and "alice-password-1" not in message


def test_silent_server_times_out(slapd: Slapd) -> None:  # noqa: F811
    # accepts the TCP connection but never answers: the receive timeout must end the wait
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        cfg = slapd.settings(url=f"ldap://127.0.0.1:{listener.getsockname()[1]}", timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(LdapUnavailable) as info:
            ldap_authenticate(cfg, "alice", "alice-password-1")
        assert time.monotonic() - started < 5
    assert slapd.admin_password not in str(info.value) and "alice-password-1" not in str(info.value)


def test_wrong_service_password_raises(slapd: Slapd) -> None:  # noqa: F811
    cfg = slapd.settings(bind_password="not-the-admin-password")
    with pytest.raises(LdapUnavailable) as info:
        ldap_authenticate(cfg, "alice", "alice-password-1")
    message = str(info.value)
    assert "service bind" in message and slapd.admin_dn in message
    assert "not-the-admin-password" not in message and "alice-password-1" not in message


def test_service_dn_without_password_raises(slapd: Slapd) -> None:  # noqa: F811
    # never an unauthenticated bind for the service account either
    with pytest.raises(LdapUnavailable):
        ldap_authenticate(slapd.settings(bind_password=None), "alice", "alice-password-1")


def test_start_tls_refused_by_plain_server_raises(slapd: Slapd) -> None:  # noqa: F811
    # this slapd has no certificate: StartTLS must fail loudly, never fall back to plain text
    with pytest.raises(LdapUnavailable) as info:
        ldap_authenticate(slapd.settings(start_tls=True), "alice", "alice-password-1")
    assert "alice-password-1" not in str(info.value)
