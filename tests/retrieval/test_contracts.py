"""Contract suites: one test class per retrieval Protocol, run against every implementation.

A new backend (say ``retrieval/backends/postgres_fts.py``) joins by adding a factory to the
``IMPLEMENTATIONS`` list of its Protocol; it is done when the class passes for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, session_factory
from db.migrate import upgrade
from db.models import Chunk, Collection, Document
from retrieval.backends.faiss import FaissIndexStore
from retrieval.backends.postgres_fts import PostgresKeywordIndex
from retrieval.backends.sqlite_fts import SqliteKeywordIndex
from retrieval.types import KeywordIndex, VectorIndex

DIM = 8

VECTOR_INDEXES: list[tuple[str, Callable[[Path], VectorIndex]]] = [
    ("faiss", lambda path: FaissIndexStore(path, dimension=DIM)),
]
# (name, the database it runs on, factory); PostgreSQL is the local server (tests/conftest.py)
KEYWORD_INDEXES: list[tuple[str, str, Callable[[], KeywordIndex]]] = [
    ("sqlite-fts", "sqlite", SqliteKeywordIndex),
    ("postgres-fts", "postgresql", PostgresKeywordIndex),
]


def _unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=[factory for _, factory in VECTOR_INDEXES],
                ids=[name for name, _ in VECTOR_INDEXES])
def make_vector_index(request: pytest.FixtureRequest, tmp_path: Path
                      ) -> Callable[[], VectorIndex]:
    return lambda: request.param(tmp_path / "index")


class TestVectorIndexContract:
    """What the retriever and the ingestor rely on from a vector store."""

    def test_is_a_vector_index(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        assert isinstance(make_vector_index(), VectorIndex)

    def test_search_ranks_by_inner_product(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        index = make_vector_index()
        vectors = _unit(0, 50)
        ids = np.arange(100, 150, dtype=np.int64)
        index.add(1, ids, vectors)
        query = vectors[7]
        scores, found = index.search(1, query, 5)
        assert found[0] == 107
        truth = np.argsort(-(vectors @ query))[:5]
        assert found.tolist() == ids[truth].tolist()
        assert list(scores) == sorted(scores, reverse=True)
        assert index.count(1) == 50 and sorted(index.ids(1).tolist()) == ids.tolist()

    def test_empty_collection_finds_nothing(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        scores, found = make_vector_index().search(3, _unit(1, 1)[0], 5)
        assert len(found) == 0 and len(scores) == 0

    def test_remove_and_collections_are_separate(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        index = make_vector_index()
        index.add(1, np.array([1, 2, 3]), _unit(2, 3))
        index.add(2, np.array([4]), _unit(3, 1))
        assert index.remove(1, np.array([2, 99])) == 1
        assert sorted(index.ids(1).tolist()) == [1, 3]
        assert index.ids(2).tolist() == [4]
        _, found = index.search(1, _unit(4, 1)[0], 10)
        assert set(found.tolist()) == {1, 3}

    def test_filtered_search_returns_only_allowed_ids(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        index = make_vector_index()
        vectors = _unit(5, 40)
        index.add(1, np.arange(1, 41), vectors)
        _, found = index.search_filtered(1, vectors[0], 10, np.array([5, 9, 33]))
        assert set(found.tolist()) == {5, 9, 33}
        _, none = index.search_filtered(1, vectors[0], 10, np.array([], dtype=np.int64))
        assert len(none) == 0

    def test_vectors_returns_stored_rows_and_zeros_for_unknown(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        index = make_vector_index()
        vectors = _unit(6, 3)
        index.add(1, np.array([10, 11, 12]), vectors)
        got = index.vectors(1, np.array([12, 99]))
        np.testing.assert_allclose(got[0], vectors[2], rtol=1e-5)
        assert not got[1].any()

    def test_saved_state_survives_reload_unsaved_does_not(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        index = make_vector_index()
        index.add(1, np.array([1, 2]), _unit(7, 2))
        index.save(1)
        index.add(1, np.array([3]), _unit(8, 1))
        index.reload(1)
        assert sorted(index.ids(1).tolist()) == [1, 2]
        assert sorted(make_vector_index().ids(1).tolist()) == [1, 2]  # another process

    def test_drop_forgets_the_collection(self, make_vector_index) -> None:  # type: ignore[no-untyped-def]
        index = make_vector_index()
        index.add(1, np.array([1]), _unit(9, 1))
        index.save(1)
        index.drop(1)
        assert index.count(1) == 0 and make_vector_index().count(1) == 0


@pytest.fixture(params=KEYWORD_INDEXES, ids=[name for name, _, _ in KEYWORD_INDEXES])
def keyword_setup(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> Iterator[tuple[KeywordIndex, sessionmaker[Session], dict[str, int]]]:
    _, database, factory = request.param
    url = (f"sqlite:///{tmp_path / 'catalog.db'}" if database == "sqlite"
           else request.getfixturevalue("pg_url"))
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as db:
        ids: dict[str, int] = {}
        for name in ("travel", "other"):
            db.add(Collection(name=name))
        db.flush()
        collections = {c.name: c.id for c in db.query(Collection)}
        texts = {
            "meals": ("travel", "ready", "The daily meal allowance is EUR 45 for domestic trips."),
            "hotels": ("travel", "ready", "Hotels are booked through the travel desk."),
            "hotel_draft": ("travel", "failed", "Hotels draft that never finished ingesting."),
            "other_hotels": ("other", "ready", "Hotels in the other collection."),
        }
        for key, (coll, status, body) in texts.items():
            doc = Document(collection_id=collections[coll], name=f"{key}.md", file_type="md",
                           content_hash=key.ljust(64, "0"), status=status)
            db.add(doc)
            db.flush()
            chunk = Chunk(document_id=doc.id, ordinal=0, text=body, heading_path="", char_start=0,
                          char_end=len(body), token_count=10)
            db.add(chunk)
            db.flush()
            ids[key] = chunk.id
            ids[f"{key}.doc"] = doc.id
        ids["travel"] = collections["travel"]
        db.commit()
    yield factory(), sessions, ids
    engine.dispose()


class TestKeywordIndexContract:
    """What the retriever and the abstention model rely on from a keyword index."""

    def test_is_a_keyword_index(self, keyword_setup) -> None:  # type: ignore[no-untyped-def]
        assert isinstance(keyword_setup[0], KeywordIndex)

    def test_finds_matching_ready_passages_of_the_collection_only(self, keyword_setup) -> None:  # type: ignore[no-untyped-def]
        index, sessions, ids = keyword_setup
        with sessions() as db:
            found = index.search(db, ids["travel"], "which hotels", 10)
        assert [c for c, _ in found] == [ids["hotels"]]  # not the failed draft, not "other"

    def test_ranks_best_first_with_stemming(self, keyword_setup) -> None:  # type: ignore[no-untyped-def]
        index, sessions, ids = keyword_setup
        with sessions() as db:
            found = index.search(db, ids["travel"], "meals allowance for trips", 10)
        assert found[0][0] == ids["meals"]
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)

    def test_allowed_documents_restrict_the_match(self, keyword_setup) -> None:  # type: ignore[no-untyped-def]
        index, sessions, ids = keyword_setup
        with sessions() as db:
            assert index.search(db, ids["travel"], "hotels meal", 10,
                                allowed_document_ids={ids["meals.doc"]})[0][0] == ids["meals"]
            assert index.search(db, ids["travel"], "hotels", 10, allowed_document_ids=set()) == []

    def test_follows_the_catalog_in_the_same_transaction(self, keyword_setup) -> None:  # type: ignore[no-untyped-def]
        index, sessions, ids = keyword_setup
        with sessions() as db:
            db.execute(delete(Chunk).where(Chunk.id == ids["hotels"]))
            assert index.search(db, ids["travel"], "hotels", 10) == []
            db.rollback()
        with sessions() as db:
            assert [c for c, _ in index.search(db, ids["travel"], "hotels", 10)] == [ids["hotels"]]

    def test_term_counts_over_every_collection(self, keyword_setup) -> None:  # type: ignore[no-untyped-def]
        index, sessions, _ = keyword_setup
        with sessions() as db:
            counts, total = index.term_counts(db, ["hotel", "meal", "zebra"])
        assert counts == {"hotel": 3, "meal": 1} and total == 4


def test_keyword_ranking_defaults_are_the_settings_defaults() -> None:
    """A keyword index searched without a ranking ranks as the shipped settings ask."""
    from config.sections import RetrievalSettings
    from retrieval.types import KeywordRanking

    assert KeywordRanking() == KeywordRanking.of(RetrievalSettings())
    tuned = RetrievalSettings(keyword_heading_weight=0.5, keyword_phrases=False,
                              keyword_max_postings=500)
    assert KeywordRanking.of(tuned) == KeywordRanking(0.5, False, 500)
