"""Fusion helpers against hand-computed values."""

import numpy as np

from retrieval.fusion import min_max, mmr_order, reciprocal_rank_fusion


def test_rrf_matches_hand_computation() -> None:
    fused = dict(reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60))
    assert fused[1] == 1 / 61 + 1 / 62
    assert fused[3] == 1 / 63 + 1 / 61
    assert fused[2] == 1 / 62
    order = [i for i, _ in reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)]
    assert order == [1, 3, 2]


def test_rrf_weights_and_deterministic_ties() -> None:
    assert [i for i, _ in reciprocal_rank_fusion([[5], [4]], weights=[1, 1])] == [4, 5]
    assert [i for i, _ in reciprocal_rank_fusion([[5], [4]], weights=[0.7, 0.3])] == [5, 4]


def test_min_max() -> None:
    assert min_max([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert min_max([7.0, 7.0]) == [1.0, 1.0]
    assert min_max([]) == []


def test_mmr_prefers_diverse_results() -> None:
    q = np.array([1.0, 0.0])
    a = np.array([0.99, 0.141])
    dup = a.copy()
    other = np.array([0.8, -0.6])
    vectors = np.stack([a, dup, other]).astype("float32")
    assert mmr_order(q, vectors, 3, 1.0)[:2] == [0, 1]  # pure relevance keeps the duplicate
    assert mmr_order(q, vectors, 3, 0.5)[:2] == [0, 2]  # MMR moves the duplicate down


def test_short_chunk_prior_lowers_only_short_chunks() -> None:
    from config.sections import RetrievalSettings
    from retrieval.retriever import _length_prior

    s = RetrievalSettings(short_chunk_tokens=32, short_chunk_penalty=0.2)
    assert _length_prior(32, s) == 1.0 and _length_prior(200, s) == 1.0
    assert _length_prior(16, s) == 0.9 and round(_length_prior(0, s), 6) == 0.8
    assert _length_prior(5, RetrievalSettings(short_chunk_penalty=0.0)) == 1.0
