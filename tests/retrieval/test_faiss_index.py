"""FAISS store against brute-force numpy ground truth; atomic, reloadable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from config.sections import VectorIndexSettings
from retrieval.backends.faiss import FaissIndexStore
from retrieval.types import ChunkSet


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


def test_bitmap_filter_keeps_only_allowed_ids(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    store = FaissIndexStore(tmp_path, dimension=16)
    vectors = _unit(rng, 300, 16)
    ids = np.arange(1, 301, dtype=np.int64)
    store.add(1, ids, vectors)
    allowed = ChunkSet.of(ids[::7])
    query = _unit(rng, 1, 16)[0]
    _, found = store.search_filtered(1, query, 10, allowed)
    mask = np.isin(ids, ids[::7])
    truth = ids[mask][np.argsort(-(vectors[mask] @ query))[:10]]
    assert found.tolist() == truth.tolist()
    assert store.search_filtered(1, query, 10, ChunkSet.of([]))[1].tolist() == []
    assert store.search_filtered(1, query, 10, np.array([5000]))[1].tolist() == []


def test_chunk_set_is_a_set_of_ids() -> None:
    s = ChunkSet.of([3, 8, 8, 1000])
    assert len(s) == 3 and s.ids().tolist() == [3, 8, 1000]
    assert 8 in s and 1000 in s and 4 not in s and 10**9 not in s and -1 not in s
    assert "8" not in s and len(s.bitmap) == 1000 // 8 + 1
    assert not s.bitmap.flags.writeable


def test_rebuild_as_ivf_keeps_every_operation(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    store = FaissIndexStore(tmp_path, dimension=16, nprobe=16)
    vectors = _unit(rng, 2000, 16)
    ids = np.arange(10, 2010, dtype=np.int64)
    store.add(1, ids, vectors)
    store.save(1)
    assert store.structure(1) == "Flat"
    assert store.rebuild(1, "IVF16,Flat") == "IVF16,Flat"
    assert [p.name for p in tmp_path.iterdir()] == ["collection-1.faiss"]
    reopened = FaissIndexStore(tmp_path, dimension=16, nprobe=16)  # another process
    assert reopened.structure(1) == "IVF16,Flat" and reopened.count(1) == 2000
    assert sorted(reopened.ids(1).tolist()) == ids.tolist()
    np.testing.assert_allclose(reopened.vectors(1, ids[:5]), vectors[:5], rtol=1e-6)
    query = vectors[100]
    _, found = reopened.search(1, query, 5)  # every list probed: exact
    assert found.tolist() == ids[np.argsort(-(vectors @ query))[:5]].tolist()
    _, found = reopened.search_filtered(1, query, 5, ChunkSet.of(ids[1::2]))
    assert found.size and all(int(i) % 2 == 1 for i in found)
    # ingest goes on: remove and add by id
    assert reopened.remove(1, ids[100:101]) == 1
    assert ids[100] not in reopened.search(1, query, 5)[1].tolist()
    reopened.add(1, np.array([5000]), vectors[100:101])
    assert reopened.search(1, query, 1)[1].tolist() == [5000]
    # and back to exact
    assert reopened.rebuild(1, "Flat") == "Flat" and reopened.count(1) == 2000


def test_rebuild_refuses_too_few_vectors_and_other_structures(tmp_path: Path) -> None:
    store = FaissIndexStore(tmp_path, dimension=8)
    store.add(1, np.arange(5), _unit(np.random.default_rng(5), 5, 8))
    with pytest.raises(ValueError, match="at least 64"):
        store.rebuild(1, "IVF64,Flat")
    with pytest.raises(ValueError, match="not Flat or an IVF"):
        store.rebuild(1, "HNSW32")
    assert store.structure(1) == "Flat" and store.count(1) == 5


def test_auto_structure_by_size() -> None:
    auto = VectorIndexSettings(flat_max_chunks=200_000)
    assert auto.structure_for(150_000) == "Flat"
    assert auto.structure_for(1_000_000) == "IVF4096,SQ8"
    assert VectorIndexSettings(factory="IVF256,Flat").structure_for(5) == "IVF256,Flat"
    with pytest.raises(ValueError, match="cannot remove|IVF factory"):
        VectorIndexSettings(factory="HNSW32")


@pytest.mark.parametrize("factory", ["Flat", "IVF16,Flat"])
def test_mmap_readers_follow_each_snapshot_and_write_through_a_private_copy(
        tmp_path: Path, factory: str) -> None:
    """Several web processes map one snapshot (retrieval.index.mmap); writes never touch a map."""
    rng = np.random.default_rng(7)
    vectors = _unit(rng, 600, 16)
    ids = np.arange(600, dtype=np.int64)
    writer = FaissIndexStore(tmp_path, dimension=16, nprobe=16)
    writer.add(1, ids[:500], vectors[:500])
    if factory != "Flat":
        writer.rebuild(1, factory)
    writer.save(1)
    reader = FaissIndexStore(tmp_path, dimension=16, nprobe=16, mmap=True)
    _, found = reader.search(1, vectors[42], 1)
    assert found.tolist() == [42]
    assert 1 in reader._mapped  # noqa: SLF001 - mapped, not loaded
    _, found = reader.search_filtered(1, vectors[42], 3, ChunkSet.of(ids[100:200]))
    assert set(found.tolist()) <= set(range(100, 200)) and len(found) == 3
    np.testing.assert_allclose(reader.vectors(1, np.array([7])), vectors[7:8], atol=0.02)

    # the writer publishes a new snapshot: the reader switches to it on its next search
    writer.add(1, ids[500:550], vectors[500:550])
    writer.save(1)
    _, found = reader.search(1, vectors[520], 1)
    assert found.tolist() == [520]

    # a write in the mapped process goes to a private copy, then a new snapshot
    reader.add(1, ids[550:], vectors[550:])
    assert 1 not in reader._mapped  # noqa: SLF001
    reader.remove(1, np.array([0]))
    reader.save(1)
    assert reader.count(1) == 599 and 1 in reader._mapped  # noqa: SLF001 - mapped again
    assert writer.count(1) == 599
    _, found = writer.search(1, vectors[580], 1)
    assert found.tolist() == [580]
    assert reader.structure(1) == writer.structure(1) == (
        "Flat" if factory == "Flat" else "IVF16,Flat")
