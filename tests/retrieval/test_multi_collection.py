"""Several collections searched as one (issue 16, scope): the candidates of every collection
are ranked together per leg, access is applied per collection, and one collection's search
is unchanged by the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.acl import Principal, get_or_create_group, grant_collection, restrict_document
from retrieval.catalog import get_collection
from retrieval.retriever import UnknownCollectionError

pytestmark = [pytest.mark.integration, pytest.mark.both_databases]

MODES = ("dense", "keyword", "hybrid")
DOCS = {
    "alpha": {"bikes.md": "# Bikes\n\nBicycles are parked in the courtyard rack near gate B.",
              "coffee.md": "# Coffee\n\nThe coffee machine on floor 3 is descaled on Fridays."},
    "beta": {"lockers.md": "# Lockers\n\nLockers for cyclists are next to the bicycle rack.",
             "payroll.md": "# Payroll\n\nBicycle allowance codeword RESTRICTED-BIKE-42 for HR."},
    "gamma": {"secret.md": "# Secret\n\nThe bicycle rack codeword is GAMMA-BIKE-77."},
}


@pytest.fixture
def corpus(stack, ingestor, tmp_path: Path):  # type: ignore[no-untyped-def]
    ids: dict[str, int] = {}
    for coll, docs in DOCS.items():
        for name, body in docs.items():
            path = tmp_path / name
            path.write_text(body, encoding="utf-8")
            ids[name] = ingestor.ingest_file(path, coll).document_id
    with stack.sessions() as db:
        for group in ("staff", "hr"):
            get_or_create_group(db, group)
        for coll in ("alpha", "beta"):
            grant_collection(db, get_collection(db, coll).id, "staff", "read")
        restrict_document(db, ids["payroll.md"], ["hr"])
        db.commit()
    return ids


def _mode(stack, mode: str) -> None:  # type: ignore[no-untyped-def]
    stack.retriever.settings = stack.retriever.settings.model_copy(update={"mode": mode})


STAFF = Principal(user="s", groups=frozenset({"staff"}))
QUERY = "bicycle rack"


@pytest.mark.parametrize("mode", MODES)
def test_several_collections_rank_together(stack, corpus, mode: str) -> None:  # type: ignore[no-untyped-def]
    _mode(stack, mode)
    hits = stack.retriever.search(QUERY, ["alpha", "beta"], k=10)
    assert {h.collection for h in hits} == {"alpha", "beta"}
    by_doc = {h.document: h for h in hits}
    assert by_doc["bikes.md"].collection == "alpha" and by_doc["lockers.md"].collection == "beta"
    # bike passages of both collections come before the coffee machine (if it comes at all:
    # the keyword leg does not match it)
    order = [h.document for h in hits]
    if "coffee.md" in order:
        assert order.index("coffee.md") > max(order.index("bikes.md"), order.index("lockers.md"))
    # one collection alone is exactly what it was
    alone = stack.retriever.search(QUERY, "alpha", k=10)
    assert [h.chunk_id for h in alone] == [h.chunk_id for h in
                                           stack.retriever.search(QUERY, ["alpha"], k=10)]
    assert {h.collection for h in alone} == {"alpha"}


@pytest.mark.parametrize("mode", MODES)
def test_access_is_applied_per_collection(stack, corpus, mode: str) -> None:  # type: ignore[no-untyped-def]
    _mode(stack, mode)
    hits = stack.retriever.search("bicycle rack codeword RESTRICTED-BIKE-42 GAMMA-BIKE-77",
                                  ["alpha", "beta", "gamma"], k=20, principal=STAFF)
    docs = {h.document for h in hits}
    assert "payroll.md" not in docs and "secret.md" not in docs  # restricted; not granted
    assert {"bikes.md", "lockers.md"} <= docs
    hr = Principal(user="h", groups=frozenset({"staff", "hr"}))
    docs = {h.document for h in stack.retriever.search(
        "bicycle allowance codeword RESTRICTED-BIKE-42", ["alpha", "beta", "gamma"], k=20,
        principal=hr)}
    assert "payroll.md" in docs and "secret.md" not in docs
    # nothing readable anywhere: no hits, never "all hits"
    nobody = Principal(user="n", groups=frozenset({"nobody"}))
    assert stack.retriever.search(QUERY, ["alpha", "beta", "gamma"], principal=nobody) == []
    assert stack.retriever.search(QUERY, [], principal=STAFF) == []


def test_an_unknown_collection_in_the_list_raises(stack, corpus) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownCollectionError, match="nowhere"):
        stack.retriever.search(QUERY, ["alpha", "nowhere"])
