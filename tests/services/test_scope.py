"""A question's scope as a conversation keeps it, and the admin-only inventory (services, no HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.acl import Principal
from services.actor import Actor
from services.ask import describe_scope, scope_label, scope_names
from services.errors import Forbidden
from tests.conftest import make_settings


@pytest.mark.parametrize(("scope", "label", "names"), [
    ("handbook", "handbook", ["handbook"]),
    (["handbook"], "handbook", ["handbook"]),
    (["projects", "handbook", "projects"], "handbook,projects", ["handbook", "projects"]),
    (None, "*", None),
])
def test_scope_label_round_trip(scope, label: str, names) -> None:  # type: ignore[no-untyped-def]
    assert scope_label(scope) == label
    assert scope_names(label) == names


def test_describe_scope() -> None:
    assert describe_scope("handbook,projects") == "handbook, projects"
    assert describe_scope("*") == "all the collections you can read"


@pytest.mark.integration
def test_inventory_is_for_admins_only(handbook_copy: Path) -> None:
    from services.container import build_services

    services = build_services(make_settings(handbook_copy))
    services.open()
    try:
        reader = Actor(7, "rita", "reader", Principal("rita", frozenset({"staff"})))
        with pytest.raises(Forbidden):
            services.inventory.documents(reader)
        with pytest.raises(Forbidden):
            services.inventory.stats(reader)
        admin = Actor(None, "cli", "admin", Principal("cli", frozenset(), is_admin=True))
        stats = services.inventory.stats(admin)
        assert stats.documents == 4 and stats.chunks == stats.vectors > 0
        (handbook,) = services.inventory.documents(admin)
        assert handbook.name == "handbook" and len(handbook.documents) == 4
    finally:
        services.close()
