"""The vector index returns exactly what a plain float32 brute force returns, quantised scan or not."""

from __future__ import annotations

import numpy as np
import pytest

from core.memory.index import VectorIndex


def brute_force(matrix: np.ndarray, ids: list[int], query: np.ndarray, k: int, keep: np.ndarray) -> list[int]:
    rows = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = rows @ (query / np.linalg.norm(query))
    scores[~keep] = -np.inf
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]


@pytest.mark.parametrize("quantize_above", [10**9, 500])
def test_search_matches_brute_force_after_adds_replacements_and_removals(quantize_above: int) -> None:
    rng = np.random.default_rng(7)
    n, dims = 3000, 96
    matrix = rng.standard_normal((n, dims)).astype(np.float32)
    ids = list(range(1000, 1000 + n))
    times = np.arange(n, dtype=np.float64)
    index = VectorIndex(dims, capacity=4, quantize_above=quantize_above)
    index.add(ids[:1000], matrix[:1000], times[:1000])
    index.add(ids[1000:], matrix[1000:], times[1000:])
    matrix[10] = rng.standard_normal(dims)  # a re-indexed row replaces the old one
    index.add([ids[10]], matrix[10:11], [times[10]])
    removed = [ids[0], ids[500], ids[-1], 424242]
    index.remove(removed)
    alive = np.array([i not in removed for i in ids])

    for trial in range(30):
        query = rng.standard_normal(dims).astype(np.float32)
        if trial % 2:
            query = matrix[rng.integers(n)] + 0.5 * query  # a query near a stored row
        got = [hit.id for hit in index.search(query, 10)]
        in_range = [hit.id for hit in index.search(query, 5, since=100, until=900)]
        assert got == brute_force(matrix, ids, query, 10, alive)
        assert in_range == brute_force(matrix, ids, query, 5, alive & (times >= 100) & (times < 900))
    assert len(index) == n - 3 and ids[0] not in index and ids[1] in index


def test_min_score_returns_nothing_for_an_unrelated_query() -> None:
    index = VectorIndex(3, quantize_above=1)
    index.add([1, 2], np.array([[1, 0, 0], [0.9, 0.1, 0]], dtype=np.float32), [0, 0])

    assert [hit.id for hit in index.search(np.array([1, 0.05, 0], dtype=np.float32), 5, min_score=0.5)] == [1, 2]
    assert index.search(np.array([0, 0, 1], dtype=np.float32), 5, min_score=0.5) == []
