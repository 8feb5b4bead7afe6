"""Per-document access control inside retrieval (issue 4, retrieval half).

Grants and restrictions semantics, fail-closed inputs (SECURITY row 2), revocation on the very
next search, deletion, defence in depth at hydration, and one permitted document among 10,000
found at rank 1 in every mode (the filter runs inside FAISS and inside the keyword SQL).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from db.models import Chunk, CollectionGrant, Document, DocumentRestriction
from retrieval.acl import (
    Principal,
    allowed_document_ids,
    can_manage_collection,
    can_read_collection,
    collection_grants,
    delete_group,
    document_restrictions,
    get_or_create_group,
    grant_collection,
    readable_collection_ids,
    restrict_document,
    revoke_collection,
    unrestrict_document,
)
from retrieval.catalog import get_collection, get_or_create_collection
from retrieval.retriever import SearchFilter

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]

MODES = ("dense", "keyword", "hybrid")


def _p(*groups: str, admin: bool = False) -> Principal:
    return Principal(user="u-" + "-".join(groups), groups=frozenset(groups), is_admin=admin)


def _mode(stack, mode: str) -> None:  # type: ignore[no-untyped-def]
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": mode})


def _add(ingestor, tmp_path: Path, name: str, body: str, coll: str = "c"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    result = ingestor.ingest_file(path, coll)
    return result


def _docs(hits) -> set[str]:  # type: ignore[no-untyped-def]
    return {h.document for h in hits}


@pytest.fixture
def corpus(stack, ingestor, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Collection 'c': open.md (everyone with a grant), hr.md (hr only), board.md (board only),
    audit.md (restricted to 'auditors', a group without a grant); a failed file; collection
    'other' granted to 'staff' only."""
    bodies = {
        "open.md": "# Canteen\n\nThe canteen budget covers lunch on Fridays for every team.\n",
        "hr.md": "# Salaries\n\nThe salary budget raises every engineer by four percent.\n",
        "board.md": "# Merger\n\nThe board budget reserves funds for the Orion merger.\n",
        "audit.md": "# Audit\n\nThe audit budget pays the external auditors in March.\n",
    }
    ids = {name: _add(ingestor, tmp_path, name, body).document_id for name, body in bodies.items()}
    failed = _add(ingestor, tmp_path, "empty.md", "   \n")
    assert failed.status == "failed"
    other = _add(ingestor, tmp_path, "other.md", "# Other\n\nThe other budget is small.\n", "other")
    with stack.sessions() as s:
        c = get_collection(s, "c").id
        o = get_collection(s, "other").id
        grant_collection(s, c, "staff")
        grant_collection(s, c, "hr")
        grant_collection(s, c, "board", "manage")
        grant_collection(s, o, "staff")
        restrict_document(s, ids["hr.md"], ["hr"])
        restrict_document(s, ids["board.md"], ["board"])
        restrict_document(s, ids["audit.md"], ["auditors"])
        s.commit()
    return {"ids": ids, "c": c, "other": o, "other_doc": other.document_id,
            "failed": failed.document_id}


def test_principal_is_an_immutable_value() -> None:
    p = Principal(user="ann", groups=["hr", "hr", "staff"])  # type: ignore[arg-type]
    assert p.groups == frozenset({"hr", "staff"}) and not p.is_admin
    assert hash(p) == hash(Principal("ann", frozenset({"staff", "hr"})))
    with pytest.raises(TypeError):
        Principal(user="ann", groups="hr")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        p.is_admin = True  # type: ignore[misc]


def test_grants_and_restrictions_semantics(stack, corpus) -> None:  # type: ignore[no-untyped-def]
    ids, c = corpus["ids"], corpus["c"]
    expected = {
        ("staff",): {"open.md"},
        ("hr",): {"open.md", "hr.md"},
        ("board",): {"open.md", "board.md"},
        ("staff", "hr"): {"open.md", "hr.md"},
        ("hr", "board"): {"open.md", "hr.md", "board.md"},
        ("auditors",): set(),  # listed on audit.md, but no grant on the collection: narrow only
        ("auditors", "staff"): {"open.md", "audit.md"},
        ("nobody-knows-this-group",): set(),
        (): set(),
    }
    name_of = {v: k for k, v in ids.items()}
    with stack.sessions() as s:
        for groups, names in expected.items():
            assert {name_of[d] for d in allowed_document_ids(s, c, _p(*groups))} == names, groups
        # admin: every ready document (the failed one is not searchable for anyone)
        assert allowed_document_ids(s, c, _p(admin=True)) == set(ids.values())
        assert corpus["failed"] not in allowed_document_ids(s, c, _p(admin=True))
        # per-collection: 'hr' holds no grant on 'other'
        assert allowed_document_ids(s, corpus["other"], _p("hr")) == set()
        assert allowed_document_ids(s, corpus["other"], _p("staff")) == {corpus["other_doc"]}
        assert can_read_collection(s, c, _p("hr")) and not can_read_collection(s, c, _p("x"))
        assert not can_read_collection(s, c, _p())
        assert can_manage_collection(s, c, _p("board")) and not can_manage_collection(s, c, _p("hr"))
        assert can_manage_collection(s, c, _p(admin=True))
        assert readable_collection_ids(s, _p("staff")) == {c, corpus["other"]}
        assert readable_collection_ids(s, _p("hr")) == {c}
        assert readable_collection_ids(s, _p()) == set()
        assert collection_grants(s, c) == {"staff": "read", "hr": "read", "board": "manage"}
        assert document_restrictions(s, ids["hr.md"]) == {"hr"}
        with pytest.raises(ValueError):
            grant_collection(s, c, "hr", "write")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            restrict_document(s, ids["open.md"], [])
        # grant upgrade keeps one row per (collection, group)
        grant_collection(s, c, "hr", "manage")
        assert s.scalar(select(func.count()).select_from(CollectionGrant)
                        .where(CollectionGrant.collection_id == c)) == 3
        s.rollback()

    topic = {"open.md": "canteen lunch Fridays", "hr.md": "salary engineer percent",
             "board.md": "Orion merger funds", "audit.md": "external auditors March"}
    for mode in MODES:
        _mode(stack, mode)
        for groups, names in expected.items():
            # "budget" is in every document; each topic question names one document's words
            results = stack.retriever.search_many(["budget", *topic.values()], "c", 10,
                                                  principal=_p(*groups))
            for hits in results:
                assert _docs(hits) <= names, (mode, groups)
                assert {h.document_id for h in hits} <= {ids[n] for n in names}
            assert _docs(results[0]) == names, (mode, groups)
            for name, hits in zip(topic, results[1:], strict=True):
                if name in names:  # every readable document is reachable by its own words
                    assert hits[0].document == name, (mode, groups, name)
        admin_hits = stack.retriever.search("budget", "c", 10, principal=_p(admin=True))
        assert _docs(admin_hits) == set(ids)
        # no principal: trusted caller, current behaviour (everything)
        assert _docs(stack.retriever.search("budget", "c", 10)) == set(ids)


def test_fail_closed_inputs(stack, corpus, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """SECURITY row 2: filters {}, None, [] never mean 'everything' when a principal is set."""
    ids = corpus["ids"]
    for mode in MODES:
        _mode(stack, mode)
        for principal in (_p(), _p("nobody"), _p("auditors")):
            for filters in (None, SearchFilter(), SearchFilter(document_ids=())):
                assert stack.retriever.search("budget", "c", 10, filters, principal=principal) == []
            assert stack.retriever.search_many(["budget", "merger"], "c", 5,
                                               principal=principal) == [[], []]
        staff = _p("staff")
        assert stack.retriever.search("budget", "c", 10, SearchFilter(document_ids=()),
                                      principal=staff) == []
        # a filter narrows access, never widens it
        assert stack.retriever.search("salary", "c", 10, SearchFilter(document_ids=(ids["hr.md"],)),
                                      principal=staff) == []
        assert stack.retriever.search("salary", "c", 10, SearchFilter(document_names=("hr.md",)),
                                      principal=staff) == []
        assert _docs(stack.retriever.search("budget", "c", 10, SearchFilter(),
                                            principal=staff)) == {"open.md"}
        hr_and_board = _p("hr", "board")
        assert _docs(stack.retriever.search(
            "budget", "c", 10, SearchFilter(document_names=("board.md", "audit.md")),
            principal=hr_and_board)) == {"board.md"}
        # a document of another collection never comes back, even when named in a filter
        assert stack.retriever.search("other budget", "c", 10,
                                      SearchFilter(document_ids=(corpus["other_doc"],)),
                                      principal=_p(admin=True)) == []

    # access is resolved before anything is searched: no embedding, no index, no SQL match
    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("searched although the principal may read nothing")

    monkeypatch.setattr(stack.retriever._embedder, "embed_queries", boom)  # noqa: SLF001
    monkeypatch.setattr(stack.retriever._index, "search", boom)  # noqa: SLF001
    monkeypatch.setattr(stack.retriever._index, "search_filtered", boom)  # noqa: SLF001
    monkeypatch.setattr(stack.retriever._keyword, "search", boom)  # noqa: SLF001
    for mode in MODES:
        _mode(stack, mode)
        assert stack.retriever.search("budget", "c", 5, principal=_p()) == []
        assert stack.retriever.search("budget", "c", 5, principal=_p("auditors")) == []
        assert stack.retriever.search("budget", "other", 5, principal=_p("hr")) == []


def test_revocation_takes_effect_on_the_next_search(stack, ingestor, corpus) -> None:  # type: ignore[no-untyped-def]
    ids, c = corpus["ids"], corpus["c"]
    hr = _p("hr")
    _mode(stack, "hybrid")

    def seen(principal: Principal = hr) -> set[str]:
        return _docs(stack.retriever.search("budget", "c", 10, principal=principal))

    assert seen() == {"open.md", "hr.md"}
    with stack.sessions() as s:  # revoke the group's grant: nothing at all
        assert revoke_collection(s, c, "hr")
        assert not revoke_collection(s, c, "hr")
        s.commit()
    assert seen() == set()
    with stack.sessions() as s:
        grant_collection(s, c, "hr")
        s.commit()
    assert seen() == {"open.md", "hr.md"}
    with stack.sessions() as s:  # narrow hr.md to 'payroll' only: hr loses it at once
        restrict_document(s, ids["hr.md"], ["payroll"])
        assert unrestrict_document(s, ids["hr.md"], ["hr"]) == 1
        s.commit()
    assert seen() == {"open.md"}
    assert seen(_p("payroll")) == set()  # listed, but no grant on the collection
    with stack.sessions() as s:  # restrict the open document: hr loses it too
        restrict_document(s, ids["open.md"], ["board"])
        s.commit()
    assert seen() == set()
    assert seen(_p("staff")) == set()
    assert seen(_p("board")) == {"open.md", "board.md"}
    with stack.sessions() as s:  # lift every restriction of open.md: readable by grantees again
        assert unrestrict_document(s, ids["open.md"]) == 1
        s.commit()
    assert seen() == {"open.md"}
    with stack.sessions() as s:  # deleting a group drops its grants and restriction rows
        assert delete_group(s, "board")
        s.commit()
    assert seen(_p("board")) == set()

    # deleting a document removes it, with its restriction rows (ON DELETE CASCADE)
    admin = _p(admin=True)
    assert "audit.md" in seen(admin)
    assert ingestor.delete_document("c", ids["audit.md"])
    assert "audit.md" not in seen(admin)
    with stack.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DocumentRestriction)
                        .where(DocumentRestriction.document_id == ids["audit.md"])) == 0
        assert ids["audit.md"] not in allowed_document_ids(s, c, admin)


def test_hydration_drops_forbidden_chunks_even_if_a_search_leaks(stack, corpus, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Defence in depth: a FAISS selector or keyword SQL that ignored the allowed set would
    still not leak, because hydration checks every chunk against it."""
    index, keyword = stack.retriever._index, stack.retriever._keyword  # noqa: SLF001
    real_search, real_keyword = index.search, keyword.search
    monkeypatch.setattr(index, "search_filtered",
                        lambda cid, q, k, allowed: real_search(cid, q, k))
    monkeypatch.setattr(keyword, "search",
                        lambda s, cid, q, k, allowed_document_ids=None, **kw:
                        real_keyword(s, cid, q, k, **kw))
    for mode in MODES:
        _mode(stack, mode)
        assert _docs(stack.retriever.search("budget", "c", 10, principal=_p("staff"))) == {
            "open.md"}
        assert _docs(stack.retriever.search("Orion merger", "c", 10, principal=_p("hr"))) <= {
            "open.md", "hr.md"}


def test_one_permitted_document_among_10000(stack) -> None:  # type: ignore[no-untyped-def]
    """10,000 one-chunk documents written straight to the catalog and FAISS (ingesting 10,000
    files through the sandboxed parser would take far too long); the principal may read one of
    them (SECURITY.md row 3). 9,999 are restricted to another group; the principal's group is
    on the target."""
    n, distinct = 10000, 100
    texts = [f"Memo {i}: the quarterly budget review meeting number {i} is held in room {i} "
             f"on floor {i % 9}." for i in range(distinct)] * (n // distinct)
    target_text = ("Zephyr memo: the quarterly budget review of the Zephyr wind farm was "
                   "approved by Ingrid Holm.")
    target_at = 1234
    texts[target_at] = target_text
    t0 = time.perf_counter()
    # 100 distinct memo texts (each on 100 documents) + the target: 101 texts to embed, so the
    # setup stays quick on a busy 2-core machine; every document and chunk row is its own.
    unique = sorted(set(texts))
    unique_vectors = stack.embedder.embed_documents(unique)
    row_of = {t: i for i, t in enumerate(unique)}
    vectors = unique_vectors[[row_of[t] for t in texts]]
    with stack.sessions() as s:
        coll = get_or_create_collection(s, "big")
        docs = [Document(collection_id=coll.id, name=f"memo-{i:04d}.txt", file_type="txt",
                         content_hash=f"{i:064x}", size_bytes=len(t)) for i, t in enumerate(texts)]
        s.add_all(docs)
        s.flush()
        chunks = [Chunk(document_id=d.id, ordinal=0, text=t, char_start=0, char_end=len(t),
                        token_count=32) for d, t in zip(docs, texts, strict=True)]
        s.add_all(chunks)
        s.flush()
        grant_collection(s, coll.id, "mine")
        grant_collection(s, coll.id, "others")
        mine, others = get_or_create_group(s, "mine").id, get_or_create_group(s, "others").id
        s.add_all(DocumentRestriction(document_id=d.id, group_id=mine if i == target_at else others)
                  for i, d in enumerate(docs))
        stack.index.add(coll.id, np.array([c.id for c in chunks], dtype=np.int64), vectors)
        s.commit()
        stack.index.save(coll.id)
        target_id, coll_id = docs[target_at].id, coll.id
    setup_s = time.perf_counter() - t0
    with stack.sessions() as s:
        assert allowed_document_ids(s, coll_id, _p("mine")) == {target_id}
        assert len(allowed_document_ids(s, coll_id, _p("others"))) == n - 1

    distractor_query = "quarterly budget review meeting number 7 held in room 7"
    mine = _p("mine")
    for mode in MODES:
        _mode(stack, mode)
        exact = stack.retriever.search(target_text, "big", 5, principal=mine)
        assert exact and exact[0].document_id == target_id and exact[0].text == target_text, mode
        # A query the 9,999 forbidden memos match better: without access control the target is
        # nowhere near the top, with it the target is the one and only hit (found inside FAISS
        # and inside the keyword SQL, not by post-filtering a top-n).
        unfiltered = stack.retriever.search(distractor_query, "big", 50)
        assert target_id not in {h.document_id for h in unfiltered}, mode
        hits = stack.retriever.search(distractor_query, "big", 5, principal=mine)
        assert [h.document_id for h in hits] == [target_id], mode
        theirs = stack.retriever.search(target_text, "big", 20, principal=_p("others"))
        assert theirs and target_id not in {h.document_id for h in theirs}, mode
        admin = stack.retriever.search(target_text, "big", 3, principal=_p(admin=True))
        assert admin[0].document_id == target_id, mode
    print(f"10,000-document setup {setup_s:.1f}s")  # noqa: T201
