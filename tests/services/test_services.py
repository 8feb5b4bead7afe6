"""The use cases called directly, as the web views and the CLI call them: domain errors, not HTTP.

A real SQLite database migrated by the same start-up step as the server; no web app, no
models loaded (nothing here embeds or generates).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db.models import AuditEvent, Document, Group
from retrieval.acl import Principal, document_restrictions
from retrieval.catalog import get_or_create_collection
from services.actor import Actor
from services.admin import NewUser, UserChanges
from services.container import Services, build_services
from services.errors import Forbidden, Invalid, NotFound, Refused
from tests.conftest import make_settings

PASSWORD = "correct-horse-battery-1"


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    built = build_services(make_settings(tmp_path / "data"))
    built.open()  # migrations only: no worker, no index repair
    yield built
    built.close()


def _actor(user_id: int | None, username: str, role: str, groups: frozenset[str] = frozenset()
           ) -> Actor:
    return Actor(user_id, username, role, Principal(username, groups, is_admin=role == "admin"))


def _document(services: Services, collection: str = "hr") -> int:
    with services.stack.sessions() as db:
        coll = get_or_create_collection(db, collection)
        doc = Document(collection_id=coll.id, name="pay.md", file_type="md",
                       content_hash="e" * 64)
        db.add(doc)
        db.add(Group(name="payroll"))
        db.commit()
        return doc.id


def _audit_count(services: Services) -> int:
    with services.stack.sessions() as db:
        return db.query(AuditEvent).count()


def test_open_migrates_and_is_idempotent(services: Services) -> None:
    services.open()
    services.ping()
    assert services.opened


def test_admin_operations_need_an_admin(services: Services) -> None:
    reader = _actor(5, "rita", "reader")
    with pytest.raises(Forbidden):
        services.admin.users(reader)
    with pytest.raises(Forbidden):
        services.admin.create_user(reader, NewUser("mallory", PASSWORD, "admin"))
    assert services.admin.users(Actor.cli()) == []


def test_cli_actor_creates_and_updates_users_with_an_audit_trail(services: Services) -> None:
    cli = Actor.cli()
    info = services.admin.create_user(cli, NewUser("pat", PASSWORD, "curator", ("staff",)))
    assert (info.username, info.role) == ("pat", "curator")
    changed = services.admin.update_user(cli, "pat", UserChanges(role="reader", groups=["hr"]))
    assert changed.role == "reader" and list(changed.groups) == ["hr"]
    with pytest.raises(NotFound):
        services.admin.update_user(cli, "nobody", UserChanges(role="reader"))
    assert _audit_count(services) == 3  # create, role, groups


def test_weak_password_is_refused_and_nothing_is_created(services: Services) -> None:
    with pytest.raises(Refused):
        services.admin.create_user(Actor.cli(), NewUser("pat", "short", "reader"))
    assert services.admin.users(Actor.cli()) == [] and _audit_count(services) == 0


def test_restriction_needs_a_manager_and_existing_groups(services: Services) -> None:
    doc_id = _document(services)
    admin = _actor(1, "root", "admin")
    reader = _actor(5, "rita", "reader", frozenset({"payroll"}))
    with pytest.raises(NotFound):  # the reader cannot even see it: the same as unknown
        services.library.set_restriction(reader, doc_id, ["payroll"])
    with pytest.raises(Invalid):
        services.library.set_restriction(admin, doc_id, ["no-such-group"])
    with pytest.raises(NotFound):
        services.library.set_restriction(admin, 999_999, ["payroll"])
    with services.stack.sessions() as db:
        assert document_restrictions(db, doc_id) == set()
    assert services.library.set_restriction(admin, doc_id, ["payroll"]) == ["payroll"]
    with services.stack.sessions() as db:
        assert document_restrictions(db, doc_id) == {"payroll"}


def test_grants_go_through_the_admin_service(services: Services) -> None:
    _document(services)
    cli = Actor.cli()
    services.admin.set_grant(cli, "hr", "payroll", "read")
    assert services.admin.grants(cli, "hr") == {"payroll": "read"}
    with pytest.raises(NotFound):
        services.admin.set_grant(cli, "no-such-collection", "payroll", "read")
    services.admin.set_grant(cli, "hr", "payroll", None)
    assert services.admin.grants(cli, "hr") == {}
    with pytest.raises(NotFound):  # nothing left to revoke
        services.admin.set_grant(cli, "hr", "payroll", None)


def test_logins_open_resolve_and_close_sessions(services: Services) -> None:
    services.admin.create_user(Actor.cli(), NewUser("pat", PASSWORD, "reader", ("staff",)))
    result = services.identity.login("pat", PASSWORD, ip="127.0.0.1")
    assert result.user_id is not None
    assert services.identity.login("pat", "wrong-password-123").user_id is None
    sid, account = services.logins.open(result.user_id, "127.0.0.1", "pytest")
    assert account.principal == Principal("pat", frozenset({"staff"}))
    assert services.logins.session_account(sid) == account
    services.logins.close(sid)
    assert services.logins.session_account(sid) is None
    assert services.logins.token_account("enc_not-a-real-token") is None
