"""Search latency and resident size of the memory vector index.

    .venv/bin/python -m bench.memory [--queries 200] [--threads N]
    .venv/bin/python -m bench.memory --users 10 --messages 100000   (bench/memory_users.py)

For 10k and 100k stored vectors at 1,536 and 512 dimensions: p50/p95 of one
search (top 10) with plain numpy float32 brute force (contiguous matrix @ vector,
argpartition) and with :class:`core.memory.index.VectorIndex` (int8 scan with
proven error bounds, exact float32 rescoring), whether both returned the same
ids for every query, how many rows were rescored, the index's bytes and the
process's resident growth.  The vectors are clustered like real embeddings
(topics plus noise); the queries are noisy copies of stored vectors.  Each
side runs its queries as one phase; the index scans on every core by default.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from core.memory.index import VectorIndex, normalise

SIZES = ((10_000, 1536), (100_000, 1536), (10_000, 512), (100_000, 512))


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 1e6


def clustered(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    topics = rng.standard_normal((max(8, n // 200), dims)).astype(np.float32)
    which = rng.integers(len(topics), size=n)
    out = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, 10_000):
        block = slice(start, min(n, start + 10_000))
        out[block] = topics[which[block]] + 1.2 * rng.standard_normal((out[block].shape[0], dims), dtype=np.float32)
    return normalise(out)


def percentile(samples: list[float], p: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(p * len(samples)))] * 1000


def run(n: int, dims: int, queries: int, threads: int | None, rng: np.random.Generator) -> dict[str, float | str]:
    vectors = clustered(n, dims, rng)
    picks = rng.integers(n, size=queries)
    probes = normalise(vectors[picks] + 0.8 * rng.standard_normal((queries, dims), dtype=np.float32) / np.sqrt(dims))

    gc.collect()
    before = resident_mb()
    started = time.perf_counter()
    index = VectorIndex(dims, threads=threads)
    index.add(list(range(n)), vectors, [0.0] * n)
    load = time.perf_counter() - started
    grown = resident_mb() - before

    # Each side runs its queries as one phase: interleaved, the BLAS workers that numpy's
    # product leaves spinning would hold the cores the index's next scan runs on.
    plain: list[float] = []
    expected: list[list[int]] = []
    for q in probes:
        started = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(scores, -10)[-10:]
        top = top[np.argsort(-scores[top])]
        plain.append(time.perf_counter() - started)
        expected.append([int(i) for i in top])
    time.sleep(0.5)
    ours: list[float] = []
    rescored: list[int] = []
    same = 0
    for q, want in zip(probes, expected, strict=True):
        started = time.perf_counter()
        hits = index.search(q, 10)
        ours.append(time.perf_counter() - started)
        same += [hit.id for hit in hits] == want
        rescored.append(index.last_rescored)
    del vectors
    return {
        "rows": f"{n // 1000}k",
        "dims": str(dims),
        "numpy p50": percentile(plain, 0.5),
        "numpy p95": percentile(plain, 0.95),
        "index p50": percentile(ours, 0.5),
        "index p95": percentile(ours, 0.95),
        "same top10": f"{same}/{queries}",
        "rescored": f"{int(np.median(rescored))}",
        "index MB": index.nbytes / 1e6,
        "RSS +MB": grown,
        "load s": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of the index's scans (default: every core past 64 MB scanned, else one)",
    )
    parser.add_argument("--users", type=int, default=0, help="load this many users' indexes from a database")
    parser.add_argument("--messages", type=int, default=100_000, help="indexed messages per user (with --users)")
    parser.add_argument("--dims", type=int, default=1536, help="vector size (with --users)")
    parser.add_argument("--budget-mb", type=int, default=2048, help="the indexes' memory budget (with --users)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.users:
        from bench.memory_users import run_users

        args.queries = min(args.queries, 50)
        run_users(args)
        return
    rng = np.random.default_rng(2026)
    rows = []
    for n, dims in SIZES:
        rows.append(run(n, dims, args.queries, args.threads, rng))
        gc.collect()
    columns = list(rows[0])
    print(" | ".join(f"{c:>10}" for c in columns))
    for row in rows:
        print(" | ".join(f"{v:>10.1f}" if isinstance(v, float) else f"{v:>10}" for v in row.values()))


if __name__ == "__main__":
    main()
