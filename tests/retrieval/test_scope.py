"""Access resolution cached per catalog access version (retrieval/scope.py, migration 0004).

The cache must never outlive a change to who reads what: every kind of change bumps the
collection's access version in the same transaction (database triggers, so bulk statements
and plain SQL count too), and a revocation is seen by the very next search.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from db.models import Collection, Document
from ingest.stack import build_ingestor
from retrieval.acl import Principal, grant_collection, restrict_document
from retrieval.catalog import get_collection
from retrieval.stack import RetrievalStack, build_retrieval
from tests.conftest import make_settings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RetrievalStack]:
    """The same tests on the embedded SQLite catalog and on the local PostgreSQL server."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    built = build_retrieval(make_settings(tmp_path / "data", database_url=url))
    yield built
    built.close()


@pytest.fixture
def ingestor(stack: RetrievalStack):  # type: ignore[no-untyped-def]
    return build_ingestor(stack)


def _version(stack, name: str = "c") -> int:  # type: ignore[no-untyped-def]
    with stack.sessions() as s:
        return s.scalar(select(Collection.access_version).where(Collection.name == name))


def _write(ingestor, tmp_path: Path, name: str, body: str, coll: str = "c") -> int:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return ingestor.ingest_file(path, coll).document_id


@pytest.fixture
def two_docs(stack, ingestor, tmp_path: Path):  # type: ignore[no-untyped-def]
    ids = [_write(ingestor, tmp_path, "a.md", "# Rota\n\nThe night shift rota starts at ten.\n"),
           _write(ingestor, tmp_path, "b.md", "# Pay\n\nNight shift pay is doubled on Sundays.\n")]
    _write(ingestor, tmp_path, "x.md", "# Other\n\nNothing here about shifts.\n", "other")
    with stack.sessions() as s:
        grant_collection(s, get_collection(s, "c").id, "staff")
        s.commit()
    return ids


def test_every_kind_of_access_change_bumps_the_version(stack, two_docs, ingestor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = two_docs
    other_before = _version(stack, "other")
    changes = [
        "INSERT INTO acl_groups (name) VALUES ('night')",
        f"INSERT INTO acl_document_restrictions (document_id, group_id) "
        f"SELECT {a}, id FROM acl_groups WHERE name = 'night'",
        f"DELETE FROM acl_document_restrictions WHERE document_id = {a}",
        "INSERT INTO acl_collection_grants (collection_id, group_id, level) SELECT c.id, g.id, "
        "'read' FROM collections c, acl_groups g WHERE c.name = 'c' AND g.name = 'night'",
        "UPDATE acl_collection_grants SET level = 'manage' WHERE group_id = "
        "(SELECT id FROM acl_groups WHERE name = 'night')",
        "UPDATE acl_groups SET name = 'nights' WHERE name = 'night'",
        "DELETE FROM acl_groups WHERE name = 'nights'",  # cascades to its grant
        f"UPDATE documents SET status = 'failed' WHERE id = {b}",
        f"DELETE FROM documents WHERE id = {b}",
    ]
    for sql in changes:
        before = _version(stack)
        with stack.engine.begin() as conn:
            conn.execute(text(sql))
        if sql.startswith("INSERT INTO acl_groups"):
            assert _version(stack) == before, "a new group changes nobody's access"
        else:
            assert _version(stack) > before, sql
    _write(ingestor, tmp_path, "c.md", "# New\n\nA new document about the rota.\n")
    assert _version(stack) > before  # a new document (its chunks come in the same commit)
    # Only renaming and deleting a group touch every collection (a group may hold grants
    # anywhere); the rest changed collection c alone.
    assert _version(stack, "other") == other_before + 2


def test_revocation_by_plain_sql_is_seen_by_the_next_search(stack, two_docs) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_docs
    staff = Principal("u", frozenset({"staff"}))
    for _ in range(2):  # the second search is served from the cache
        assert {h.document_id for h in stack.retriever.search("night shift", "c", 5,
                                                              principal=staff)} >= {a}
    with stack.engine.begin() as conn:  # not through retrieval.acl: no hook but the triggers
        conn.execute(text("INSERT INTO acl_groups (name) VALUES ('board')"))
        conn.execute(text(f"INSERT INTO acl_document_restrictions (document_id, group_id) "
                          f"SELECT {a}, id FROM acl_groups WHERE name = 'board'"))
    hits = stack.retriever.search("night shift rota", "c", 5, principal=staff)
    assert a not in {h.document_id for h in hits}
    for mode in ("dense", "keyword"):
        stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": mode})
        assert a not in {h.document_id for h in stack.retriever.search(
            "night shift rota", "c", 5, principal=staff)}, mode


def test_cache_hit_resolves_nothing_again(stack, two_docs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import retrieval.scope as scope_module

    calls = []
    real = scope_module.allowed_document_ids
    monkeypatch.setattr(scope_module, "allowed_document_ids",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    staff = Principal("u", frozenset({"staff"}))
    for _ in range(3):
        stack.retriever.search("night shift", "c", 5, principal=staff)
    assert len(calls) == 1
    stack.retriever.search("night shift", "c", 5, principal=Principal("v", frozenset({"hr"})))
    assert len(calls) == 2  # another group set: its own entry
    with stack.sessions() as s:
        restrict_document(s, two_docs[1], ["hr"])
        s.commit()
    hits = stack.retriever.search("night shift pay", "c", 5, principal=staff)
    assert len(calls) == 3 and two_docs[1] not in {h.document_id for h in hits}


def test_replaced_document_chunks_follow_the_new_version(stack, two_docs, ingestor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    staff = Principal("u", frozenset({"staff"}))
    stack.retriever.search("night shift", "c", 5, principal=staff)  # cache the old chunk ids
    _write(ingestor, tmp_path, "a.md", "# Rota\n\nThe weekend rota for porters is posted.\n")
    hits = stack.retriever.search("weekend rota porters", "c", 5, principal=staff)
    assert hits and "porters" in hits[0].text
    with stack.sessions() as s:
        assert s.scalar(select(Document.version).where(Document.id == two_docs[0])) == 2
