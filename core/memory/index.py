"""One user's vectors, searched exactly; large indexes keep only an int8 copy in memory.

A small index keeps its normalised float32 rows contiguous in memory, so a
search is one matrix-vector product over a single block.  Past
``quantize_above`` rows a search first scans an int8 copy of the rows (a
quarter of the bytes, which is what bounds the time of a scan) with SIMD
integer dot products, then rescores exactly, in float32, every row whose int8
score could still reach the top ``k``: each int8 score carries a proven error
bound, so the result is the same as the plain float32 brute force.  Only the
int8 copy stays resident then (about 155 MB for 100k rows at 1,536
dimensions, against 614 MB of float32): the exact rows live in an unlinked
file and the hundred or so rescored rows are read back from it per search.

Every product goes through SimSIMD, so the index never wakes the BLAS thread
pool, whose spinning workers would otherwise hold the cores the next scan needs.
A scan of more than ``SPREAD_BYTES`` runs on every core (100k x 1,536 int8: one
thread 17.4 ms, two 8.9 ms on an idle 2-core VM); a smaller one on one thread
(``threads`` overrides both): with the server's other work around, a second
thread made a 100k x 256 int8 scan 14-23 ms instead of 1.5-10 ms (p50), waiting
for the other core and starting its work costing more than the half it saves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simsimd

from core.memory.rows import FileRows, MemoryRows

# Largest int8 code; each row is scaled so its largest component maps to it.
_I8_MAX = 127.0
# A scan over more bytes than this runs on every core (see the module's docstring).
SPREAD_BYTES = 64 * 1024 * 1024
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
    Past ``quantize_above`` rows only the int8 copy stays in memory and the exact
    rows move to an unlinked file in ``spill_dir`` (core/memory/rows.py).
    """

    def __init__(
        self,
        dims: int,
        *,
        capacity: int = 256,
        quantize_above: int = 4_096,
        threads: int | None = None,
        spill_dir: str | Path | None = None,
    ) -> None:
        self.dims = dims
        self.quantize_above = quantize_above
        self.threads = threads  # None: by the size of the scan
        self.spill_dir = spill_dir
        self._n = 0
        self._exact: MemoryRows | FileRows = MemoryRows(dims, capacity)
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
        """Bytes the index holds in this process's memory (arrays, exact rows if resident, the id map)."""
        total = self._exact.resident_bytes + self._ids.nbytes + self._times.nbytes
        if self._codes is not None and self._bounds is not None:
            total += self._codes.nbytes + self._bounds.nbytes
        # The id -> row dict: its table plus two int objects per entry.
        return total + sys.getsizeof(self._rows) + 64 * len(self._rows)

    def trim(self) -> None:
        """Give back the room beyond the rows held (after a bulk load whose size was not known)."""
        n = self._n
        if len(self._ids) > n:
            self._ids = self._ids[:n].copy()
            self._times = self._times[:n].copy()
            if isinstance(self._exact, MemoryRows):
                self._exact.array = self._exact.array[:n].copy()
            if self._codes is not None and self._bounds is not None:
                self._codes = self._codes[:n].copy()
                self._bounds = self._bounds[:n].copy()

    def add(self, ids: Sequence[int], vectors: np.ndarray, times: Sequence[float]) -> None:
        """Add rows (normalised here); an id already present has its row replaced."""
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
                self._times[position] = times[i]
                self._store(position, matrix[i : i + 1])
        if not fresh:
            return
        start = self._n
        stop = start + len(fresh)
        self._ensure_capacity(stop)
        if len(fresh) == len(ids):  # the usual bulk load: no fancy-index copy
            block = matrix
            self._ids[start:stop] = ids
            self._times[start:stop] = times
        else:
            block = matrix[fresh]
            self._ids[start:stop] = [ids[i] for i in fresh]
            self._times[start:stop] = [times[i] for i in fresh]
        self._store(start, block)
        for offset, i in enumerate(fresh):
            self._rows[int(ids[i])] = start + offset
        self._n = stop
        if self._codes is None and self._n >= self.quantize_above:
            self._spill()

    def remove(self, ids: Sequence[int]) -> None:
        """Drop rows by id (ids not present are ignored); the last row fills the gap."""
        for item_id in ids:
            position = self._rows.pop(int(item_id), None)
            if position is None:
                continue
            last = self._n - 1
            if position != last:
                self._exact.write(position, self._exact.read(np.array([last])))
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
            assert isinstance(self._exact, MemoryRows)
            scores = self._dot(self._exact.array[:n], q)
            candidates = np.arange(n) if allowed is None else np.flatnonzero(allowed)
            return self._top(candidates, scores[candidates], k, min_score)
        candidates = self._candidates(q, k, min_score, allowed)
        self.last_rescored = len(candidates)
        exact = self._dot(self._exact.read(candidates), q)
        return self._top(candidates, exact, k, min_score)

    def vector(self, item_id: int) -> np.ndarray | None:
        """A copy of one row's (normalised) vector, or None when the id is absent."""
        position = self._rows.get(int(item_id))
        return None if position is None else self._exact.read(np.array([position]))[0]

    def score(self, item_id: int, query: np.ndarray) -> float:
        """The cosine similarity of one row to ``query`` (KeyError when the id is absent)."""
        return float(self._exact.read(np.array([self._rows[int(item_id)]]))[0] @ normalise(query)[0])

    # -- internals -----------------------------------------------------------------
    def _dot(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``rows @ q`` in float32 (one thread for a handful of rows: starting more costs more)."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        threads = self._threads(rows.nbytes) if len(rows) >= 4096 else 1
        return np.asarray(simsimd.cdist(q.reshape(1, -1), rows, metric="dot", threads=threads), dtype=np.float32)[0]

    def _threads(self, scanned_bytes: int) -> int:
        """Threads for a scan of ``scanned_bytes``: every core past ``SPREAD_BYTES``, else one."""
        if self.threads:
            return self.threads
        return (os.cpu_count() or 1) if scanned_bytes > SPREAD_BYTES else 1

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
        raw = np.asarray(
            simsimd.cdist(q_codes.reshape(1, -1), self._codes[:n], metric="dot", threads=self._threads(n * self.dims))
        )[0]
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

    def _store(self, start: int, block: np.ndarray) -> None:
        """Normalise ``block`` and store it at rows ``start`` onwards, with its int8 copy once there is one."""
        for lo in range(0, len(block), _BLOCK):
            rows = np.array(block[lo : lo + _BLOCK], dtype=np.float32)  # a copy: the caller's rows stay as given
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            rows /= norms
            self._exact.write(start + lo, rows)
            if self._codes is not None:
                self._quantise(start + lo, rows)

    def _quantise(self, start: int, rows: np.ndarray) -> None:
        """Fill the int8 copy and error bounds of ``rows`` (normalised), stored from ``start``."""
        assert self._codes is not None and self._bounds is not None
        stop = start + len(rows)
        scales = np.abs(rows).max(axis=1) / _I8_MAX
        scales[scales == 0] = 1.0
        codes = np.rint(rows / scales[:, None])
        self._codes[start:stop] = codes
        codes *= scales[:, None]
        codes -= rows
        self._bounds[start:stop, 0] = scales
        self._bounds[start:stop, 1] = np.linalg.norm(codes, axis=1)

    def _spill(self) -> None:
        """Build the int8 copy and move the exact rows out of memory into a file."""
        assert isinstance(self._exact, MemoryRows)
        capacity = len(self._ids)
        self._codes = np.empty((capacity, self.dims), dtype=np.int8)
        self._bounds = np.empty((capacity, 2), dtype=np.float32)
        spilled = FileRows(self.dims, self.spill_dir)
        for lo in range(0, self._n, _BLOCK):
            rows = self._exact.array[lo : min(self._n, lo + _BLOCK)]
            spilled.write(lo, rows)
            self._quantise(lo, rows)
        self._exact = spilled

    def _ensure_capacity(self, needed: int) -> None:
        capacity = len(self._ids)
        if needed <= capacity:
            return
        # Small indexes double; large ones grow by an eighth, so a user's index never holds
        # much more than it uses (a bulk load is trimmed to its size afterwards).
        needed = max(needed, capacity + max(capacity // 8, min(capacity, 4096)))
        self._exact.reserve(needed, self._n)
        self._ids = _grown(self._ids, needed, self._n)
        self._times = _grown(self._times, needed, self._n)
        if self._codes is not None and self._bounds is not None:
            self._codes = _grown(self._codes, needed, self._n)
            self._bounds = _grown(self._bounds, needed, self._n)


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger
