"""FAISS store against brute-force numpy ground truth; atomic, reloadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.backends.faiss import FaissIndexStore


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_search_matches_brute_force(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    store = FaissIndexStore(tmp_path, dimension=16)
    vectors = _unit(rng, 200, 16)
    ids = np.arange(1000, 1200, dtype=np.int64)
    store.add(1, ids, vectors)
    query = _unit(rng, 1, 16)[0]
    scores, found = store.search(1, query, 10)
    truth = np.argsort(-(vectors @ query))[:10]
    assert found.tolist() == ids[truth].tolist()
    np.testing.assert_allclose(scores, (vectors @ query)[truth], rtol=1e-5)


def test_remove_and_collections_are_separate(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = FaissIndexStore(tmp_path, dimension=8)
    store.add(1, np.array([1, 2, 3]), _unit(rng, 3, 8))
    store.add(2, np.array([4]), _unit(rng, 1, 8))
    assert store.remove(1, np.array([2, 99])) == 1
    assert sorted(store.ids(1).tolist()) == [1, 3]
    assert store.ids(2).tolist() == [4]
    _, found = store.search(1, _unit(rng, 1, 8)[0], 10)
    assert set(found.tolist()) == {1, 3}


def test_empty_index_search_returns_nothing(tmp_path: Path) -> None:
    store = FaissIndexStore(tmp_path, dimension=8)
    scores, ids = store.search(5, np.ones(8, dtype="float32"), 3)
    assert len(scores) == 0 and len(ids) == 0


def test_save_is_atomic_and_reloads(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    store = FaissIndexStore(tmp_path, dimension=8)
    store.add(3, np.array([10, 11]), _unit(rng, 2, 8))
    store.save(3)
    assert [p.name for p in tmp_path.iterdir()] == ["collection-3.faiss"]  # no temp left
    other = FaissIndexStore(tmp_path, dimension=8)
    assert sorted(other.ids(3).tolist()) == [10, 11]
    # another process saving a newer file is picked up on next use
    other.add(3, np.array([12]), _unit(rng, 1, 8))
    other.save(3)
    assert sorted(store.ids(3).tolist()) == [10, 11, 12]


def test_dimension_mismatch_is_explained(tmp_path: Path) -> None:
    store = FaissIndexStore(tmp_path, dimension=8)
    store.add(1, np.array([1]), np.ones((1, 8), dtype="float32"))
    store.save(1)
    wrong = FaissIndexStore(tmp_path, dimension=16)
    try:
        wrong.ids(1)
    except RuntimeError as exc:
        assert "re-ingest" in str(exc)
    else:
        raise AssertionError("dimension mismatch not detected")
