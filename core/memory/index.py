"""One user's vectors as one normalised matrix in memory, searched exactly.

Rows are kept contiguous in a preallocated float32 matrix that grows by
doubling, so a search is one matrix-vector product over a single block of
memory.  Past ``quantize_above`` rows a search first scans an int8 copy of the
matrix (a quarter of the bytes, which is what bounds the time of a scan) with
SIMD integer dot products, then rescores exactly, in float32, every row whose
int8 score could still reach the top ``k``: each int8 score carries a proven
error bound, so the result is the same as the plain float32 brute force.

Every product goes through SimSIMD on ``threads`` threads (all cores by
default): the scan is compute bound, so two cores halve it, and the index never
wakes the BLAS thread pool, whose spinning workers would otherwise hold the
cores the next scan needs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import simsimd

# Largest int8 code; each row is scaled so its largest component maps to it.
_I8_MAX = 127.0
# Rows normalised and quantised at a time (about 1.5 MB of float32 at 1,536 dimensions).
_BLOCK = 256


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the row's id and its cosine similarity to the query."""

    id: int
    score: float


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as contiguous float32 (zero rows stay zero)."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class VectorIndex:
    """Exact cosine search over the vectors of one user.

    ``times`` (Unix seconds, one per row) let a search keep only rows inside a
    date range without losing results to a filter applied after the top ``k``.
    """

    def __init__(
        self, dims: int, *, capacity: int = 256, quantize_above: int = 20_000, threads: int | None = None
    ) -> None:
        self.dims = dims
        self.quantize_above = quantize_above
        self.threads = threads or os.cpu_count() or 1
        self._n = 0
        self._matrix = np.empty((capacity, dims), dtype=np.float32)
        self._ids = np.empty(capacity, dtype=np.int64)
        self._times = np.empty(capacity, dtype=np.float64)
        self._codes: np.ndarray | None = None  # int8 copy, built once the index is large enough
        # Per row of the int8 copy: its scale, and the norm of what rounding lost.
        self._bounds: np.ndarray | None = None
        self._rows: dict[int, int] = {}
        self.last_rescored = 0  # rows the last search scored exactly (for benchmarks)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._rows

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the resident size of the index, less the id map)."""
        total = self._matrix.nbytes + self._ids.nbytes + self._times.nbytes
        if self._codes is not None and self._bounds is not None:
            total += self._codes.nbytes + self._bounds.nbytes
        return total

    def add(self, ids: Sequence[int], vectors: np.ndarray, times: Sequence[float], *, adopt: bool = False) -> None:
        """Add rows (normalised here); an id already present has its row replaced.

        ``adopt``: the index may keep ``vectors`` (float32, C-contiguous) as its own
        matrix when it is empty, saving a copy; the caller must not use it afterwards.
        """
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.shape[1] != self.dims:
            raise ValueError(f"vectors have {matrix.shape[1]} dimensions, the index {self.dims}")
        if not (len(ids) == len(matrix) == len(times)):
            raise ValueError("ids, vectors and times differ in length")
        last_of = {int(item_id): i for i, item_id in enumerate(ids)}  # a repeated id: the last one wins
        fresh = [i for item_id, i in last_of.items() if item_id not in self._rows]
        for item_id, i in last_of.items():
            position = self._rows.get(item_id)
            if position is not None:
                self._matrix[position] = matrix[i]
                self._times[position] = times[i]
                self._prepare(position, position + 1)
        if fresh:
            start = self._n
            stop = start + len(fresh)
            whole = len(fresh) == len(ids)
            if adopt and whole and start == 0 and matrix.flags.c_contiguous and matrix.flags.writeable:
                self._matrix = matrix  # a cold load: the caller's buffer becomes the index
                self._ids = np.empty(stop, dtype=np.int64)
                self._times = np.empty(stop, dtype=np.float64)
            self._ensure_capacity(stop)
            if whole and self._matrix is matrix:
                self._ids[start:stop] = ids
                self._times[start:stop] = times
            elif whole:  # the usual bulk load: no fancy-index copy
                self._matrix[start:stop] = matrix
                self._ids[start:stop] = ids
                self._times[start:stop] = times
            else:
                self._matrix[start:stop] = matrix[fresh]
                self._ids[start:stop] = [ids[i] for i in fresh]
                self._times[start:stop] = [times[i] for i in fresh]
            for offset, i in enumerate(fresh):
                self._rows[int(ids[i])] = start + offset
            self._n = stop
            if self._codes is None and self._n >= self.quantize_above:
                self._codes = np.empty((len(self._matrix), self.dims), dtype=np.int8)
                self._bounds = np.empty((len(self._matrix), 2), dtype=np.float32)
                self._prepare(0, stop)
            else:
                self._prepare(start, stop)

    def remove(self, ids: Sequence[int]) -> None:
        """Drop rows by id (ids not present are ignored); the last row fills the gap."""
        for item_id in ids:
            position = self._rows.pop(int(item_id), None)
            if position is None:
                continue
            last = self._n - 1
            if position != last:
                self._matrix[position] = self._matrix[last]
                self._ids[position] = self._ids[last]
                self._times[position] = self._times[last]
                if self._codes is not None and self._bounds is not None:
                    self._codes[position] = self._codes[last]
                    self._bounds[position] = self._bounds[last]
                self._rows[int(self._ids[position])] = position
            self._n = last

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        min_score: float = -1.0,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Hit]:
        """The ``k`` rows most similar to ``query``, best first, each at least ``min_score``.

        ``since``/``until`` (Unix seconds, ``until`` exclusive) restrict the rows searched.
        """
        n = self._n
        if n == 0 or k <= 0:
            return []
        q = normalise(query)[0]
        allowed: np.ndarray | None = None
        if since is not None or until is not None:
            times = self._times[:n]
            allowed = np.ones(n, dtype=bool)
            if since is not None:
                allowed &= times >= since
            if until is not None:
                allowed &= times < until
        if self._codes is None:
            scores = self._dot(self._matrix[:n], q)
            candidates = np.arange(n) if allowed is None else np.flatnonzero(allowed)
            return self._top(candidates, scores[candidates], k, min_score)
        candidates = self._candidates(q, k, min_score, allowed)
        self.last_rescored = len(candidates)
        exact = self._dot(self._matrix[candidates], q)
        return self._top(candidates, exact, k, min_score)

    def vector(self, item_id: int) -> np.ndarray | None:
        """A copy of one row's (normalised) vector, or None when the id is absent."""
        position = self._rows.get(int(item_id))
        return None if position is None else self._matrix[position].copy()

    def score(self, item_id: int, query: np.ndarray) -> float:
        """The cosine similarity of one row to ``query`` (KeyError when the id is absent)."""
        return float(self._matrix[self._rows[int(item_id)]] @ normalise(query)[0])

    # -- internals -----------------------------------------------------------------
    def _dot(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``rows @ q`` in float32 (one thread for a handful of rows: starting more costs more)."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        threads = self.threads if len(rows) >= 4096 else 1
        return np.asarray(simsimd.cdist(q.reshape(1, -1), rows, metric="dot", threads=threads), dtype=np.float32)[0]

    def _top(self, rows: np.ndarray, scores: np.ndarray, k: int, min_score: float) -> list[Hit]:
        keep = scores >= min_score
        rows, scores = rows[keep], scores[keep]
        if len(rows) > k:
            best = np.argpartition(scores, -k)[-k:]
            rows, scores = rows[best], scores[best]
        order = np.argsort(-scores, kind="stable")
        return [Hit(int(self._ids[rows[i]]), float(scores[i])) for i in order]

    def _candidates(self, q: np.ndarray, k: int, min_score: float, allowed: np.ndarray | None) -> np.ndarray:
        """Rows whose int8 score, widened by its error bound, could reach the exact top ``k``."""
        assert self._codes is not None and self._bounds is not None
        n = self._n
        scale = float(np.abs(q).max()) / _I8_MAX or 1.0
        q_codes = np.rint(q / scale).astype(np.int8)
        q_rounded = q_codes.astype(np.float32) * scale
        # q·x = q̂·(s c) + q̂·(x - s c) + (q - q̂)·x; Cauchy-Schwarz bounds the last two
        # by |q̂| r and |q - q̂| (|x| = 1), r being the stored norm of x - s c.
        query_error = float(np.linalg.norm(q - q_rounded)) + 1e-5
        query_norm = float(np.linalg.norm(q_rounded))
        raw = np.asarray(simsimd.cdist(q_codes.reshape(1, -1), self._codes[:n], metric="dot", threads=self.threads))[0]
        bounds = self._bounds[:n]
        approx = raw * (bounds[:, 0] * scale)
        bound = bounds[:, 1] * query_norm + query_error
        lower = approx - bound
        upper = approx + bound
        if allowed is not None:
            lower[~allowed] = -np.inf
            upper[~allowed] = -np.inf
        # The k-th best lower bound is a score the exact k-th best must reach.
        threshold = min_score
        if k < n:
            threshold = max(threshold, float(np.partition(lower, n - k)[n - k]))
        return np.flatnonzero(upper >= threshold)

    def _prepare(self, start: int, stop: int) -> None:
        """Normalise rows in place and refresh their int8 copy, in blocks that stay in cache."""
        for lo in range(start, stop, _BLOCK):
            hi = min(stop, lo + _BLOCK)
            block = self._matrix[lo:hi]
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            block /= norms
            if self._codes is None or self._bounds is None:
                continue
            scales = np.abs(block).max(axis=1) / _I8_MAX
            scales[scales == 0] = 1.0
            codes = np.rint(block / scales[:, None])
            self._codes[lo:hi] = codes
            codes *= scales[:, None]
            codes -= block
            self._bounds[lo:hi, 0] = scales
            self._bounds[lo:hi, 1] = np.linalg.norm(codes, axis=1)

    def _ensure_capacity(self, needed: int) -> None:
        capacity = len(self._matrix)
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)  # a bulk load gets exactly its size
        self._matrix = _grown(self._matrix, capacity, self._n)
        self._ids = _grown(self._ids, capacity, self._n)
        self._times = _grown(self._times, capacity, self._n)
        if self._codes is not None and self._bounds is not None:
            self._codes = _grown(self._codes, capacity, self._n)
            self._bounds = _grown(self._bounds, capacity, self._n)


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger
