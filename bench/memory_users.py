"""Many users' memory indexes loaded from a database: resident memory, cold loads, search and loop lag.

    .venv/bin/python -m bench.memory --users 10 --messages 100000 [--dims 1536] [--budget-mb 2048]
        [--database sqlite|postgresql] [--queries 50]

Stores ``--users`` users of ``--messages`` indexed messages each (clustered
vectors like real embeddings) in a fresh database, then, through
:class:`core.memory.vectors.UserVectors` as the bot uses it, loads each user's
index cold while a probe task measures how late the event loop wakes it (it
asks for 5 ms sleeps), searches each user (the first search after a load is
"cold", the others "warm"), checks every top 10 against a float32 brute force
computed at fill time, and prints the process's resident memory per user.
With a budget below what all users need, loading the later users evicts the
earlier ones; the last line searches the first user again after it was evicted.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from bench.memory import clustered, percentile, resident_mb
from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.db.models_memory import MessageEmbedding
from core.memory.index import normalise
from core.memory.vectors import UserVectors

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = "text-embedding-3-small"


async def fill_user(db: Database, messages: int, dims: int, queries: int, seed: int) -> tuple[int, np.ndarray, list]:
    """One user with ``messages`` embedded messages; returns their id, probe vectors and brute-force top 10s."""
    rng = np.random.default_rng(seed)
    vectors = clustered(messages, dims, rng)
    async with db.engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).returning(User.id), {"display_name": f"u{seed}", "settings": {}, "created_at": START}
        )
        conversation = await conn.scalar(
            insert(Conversation).returning(Conversation.id),
            {
                "user_id": user_id,
                "platform": "bench",
                "workspace": "w",
                "channel": f"c{seed}",
                "thread": "",
                "created_at": START,
                "revision": 0,
            },
        )
    message_ids: list[int] = []
    for start in range(0, messages, 2000):
        count = min(2000, messages - start)
        async with db.engine.begin() as conn:
            ids = (
                await conn.scalars(
                    insert(Message).returning(Message.id, sort_by_parameter_order=True),
                    [
                        {
                            "conversation_id": conversation,
                            "author_user_id": user_id,
                            "role": "user",
                            "content": f"message {start + i}",
                            "attachments": [],
                            "platform_parts": [],
                            "created_at": START + timedelta(minutes=start + i),
                            "status": "complete",
                            "status_reason": "",
                            "token_count": 2,
                            "model": "",
                        }
                        for i in range(count)
                    ],
                )
            ).all()
            message_ids.extend(ids)
            await conn.execute(
                insert(MessageEmbedding),
                [
                    {
                        "message_id": mid,
                        "user_id": user_id,
                        "embedding": vectors[start + i].astype("<f4").tobytes(),
                        "dims": dims,
                        "model": MODEL,
                        "indexed_at": START,
                    }
                    for i, mid in enumerate(ids)
                ],
            )
    picks = rng.integers(messages, size=queries)
    probes = normalise(vectors[picks] + 0.8 * rng.standard_normal((queries, dims), dtype=np.float32) / np.sqrt(dims))
    expected = []
    for q in probes:
        scores = vectors @ q
        top = np.argpartition(scores, -10)[-10:]
        expected.append([message_ids[i] for i in top[np.argsort(-scores[top])]])
    return int(user_id), probes, expected


async def lag_probe(lags: list[float], stop: asyncio.Event) -> None:
    """Ask for 5 ms sleeps and record how much later than asked the loop woke us."""
    while not stop.is_set():
        asked = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - asked - 0.005)


async def measure(url: str, args) -> None:  # type: ignore[no-untyped-def]
    db = Database(url)
    await db.migrate()
    started = time.perf_counter()
    users = [await fill_user(db, args.messages, args.dims, args.queries, seed) for seed in range(args.users)]
    print(f"filled {args.users} users x {args.messages} messages in {time.perf_counter() - started:.0f} s")
    idle: list[float] = []  # the machine's own floor: the same probe with nothing loading
    stop_idle = asyncio.Event()
    idle_probe = asyncio.create_task(lag_probe(idle, stop_idle))
    await asyncio.sleep(2)
    stop_idle.set()
    await idle_probe
    print(f"loop lag with nothing loading: max {max(idle) * 1000:.1f} ms (the machine's floor)")
    with tempfile.TemporaryDirectory() as spill:
        # No other process writes here: no background catch-up queries (max_age) to disturb the figures.
        vectors = UserVectors(db, MODEL, budget_bytes=args.budget_mb * 1024 * 1024, spill_dir=spill, max_age=3600)
        gc.collect()
        base = resident_mb()
        loads: list[float] = []
        lags: list[float] = []
        cold: list[float] = []
        warm: list[float] = []
        same = total = 0
        for user_id, probes, expected in users:
            stop = asyncio.Event()
            probe = asyncio.create_task(lag_probe(lags, stop))
            started = time.perf_counter()
            index = await vectors.get(user_id, "message")
            loads.append(time.perf_counter() - started)
            stop.set()
            await probe
            assert index is not None and len(index) == args.messages
            for i, (q, want) in enumerate(zip(probes, expected, strict=True)):
                started = time.perf_counter()
                index = await vectors.get(user_id, "message")
                hits = index.search(q, 10)  # type: ignore[union-attr]
                (cold if i == 0 else warm).append(time.perf_counter() - started)
                same += [hit.id for hit in hits] == want
                total += 1
        grown = resident_mb() - base
        resident = len(vectors.loaded_users())
        # The first user again: evicted when the budget is below what every user needs.
        user_id, probes, expected = users[0]
        again_started = time.perf_counter()
        index = await vectors.get(user_id, "message")
        again = time.perf_counter() - again_started
        again_same = sum([h.id for h in index.search(q, 10)] == w for q, w in zip(probes, expected, strict=True))  # type: ignore[union-attr]
    print(
        " | ".join(
            f"{c:>11}"
            for c in (
                "users",
                "in memory",
                "RSS +MB",
                "MB per user",
                "index MB",
                "load s p50",
                "load s max",
                "lag ms max",
                "cold p95 ms",
                "warm p95 ms",
                "same top10",
            )
        )
    )
    print(
        " | ".join(
            f"{v:>11}"
            for v in (
                args.users,
                resident,
                f"{grown:.0f}",
                f"{grown / max(1, resident):.0f}",
                f"{vectors.resident_bytes / 1e6:.0f}",
                f"{sorted(loads)[len(loads) // 2]:.2f}",
                f"{max(loads):.2f}",
                f"{max(lags) * 1000:.1f}",
                f"{percentile(cold, 0.95):.1f}",
                f"{percentile(warm, 0.95):.1f}",
                f"{same}/{total}",
            )
        )
    )
    print(f"first user searched again: {again:.2f} s to get its index, same top10 {again_same}/{len(probes)}")
    await db.dispose()


async def main_async(args) -> None:  # type: ignore[no-untyped-def]
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            await measure(f"sqlite+aiosqlite:///{Path(folder) / 'memory.db'}", args)
        return
    admin = Database(POSTGRES_ADMIN_URL)
    name = f"captainslog_bench_{uuid.uuid4().hex[:8]}"
    async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        await measure(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False), args)
    finally:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def run_users(args) -> None:  # type: ignore[no-untyped-def]
    """The ``--users`` mode of bench.memory."""
    asyncio.run(main_async(args))
