"""Rank fusion and diversification: small, numpy-in / lists-out helpers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = 60
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: ``score(id) = sum_i w_i / (k + rank_i(id))``, best first.

    Ties break by id so the order is deterministic.
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))


def min_max(values: Sequence[float]) -> list[float]:
    """Scale to [0, 1]; a constant list maps to 1."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return [1.0] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


def mmr_order(query: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Maximal marginal relevance: pick ``k`` rows trading relevance against redundancy."""
    n = len(vectors)
    relevance = vectors @ query
    chosen: list[int] = []
    remaining = list(range(n))
    while remaining and len(chosen) < k:
        if chosen:
            redundancy = np.max(vectors[remaining] @ vectors[chosen].T, axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        scores = lam * relevance[remaining] - (1 - lam) * redundancy
        best = remaining[int(np.argmax(scores))]
        chosen.append(best)
        remaining.remove(best)
    return chosen + remaining
