"""search_memory's latency at scale, with common words, on SQLite and PostgreSQL.

    python -m bench.memory_search [--messages 100000] [--dims 256] [--queries 40]

One user with ``--messages`` messages made of chat-like lines (bench/chats.py's
small talk and storylines, numbered so no two are equal: "today", "good",
"time", "week" each appear in thousands of rows) and random embeddings.  After
a warm-up search (which loads the user's vector index) it times
:meth:`MemorySearch.search_vector` — full text, vectors, fusion and reading the
hits back with their neighbouring turns, everything ``search_memory`` does after
embedding the question — for questions made of common words, of rare words
and of both, and prints p50/p95/max per database, the full-text part alone (``text``), how many rows the
commonest query word ("yeah", in 40 % of the lines) matches, and ``cpu ms``: this
process's CPU time per search (all its threads, so SQLite's work too, not PostgreSQL's
server), which a busy machine inflates far less than the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from bench.chats import SMALL_TALK_A, SMALL_TALK_B, conversations
from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.db.models_memory import MessageEmbedding
from core.memory import fts
from core.memory.search import MemorySearch
from core.memory.store import MemoryStore

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2024, 1, 1, tzinfo=UTC)
MODEL = "bench-embedding"
QUERIES = {
    "common": ["yeah how was your day today", "yeah good time", "what did I do last night", "yeah long day again"],
    "rare": ["Kraftwerk tickets", "pottery class Thursday", "Northwind offer", "sprained ankle physio"],
    "mixed": ["when was the Kraftwerk gig last week", "what did I make at pottery today", "good news from Northwind"],
}


class _NoEmbedder:
    """The bench gives search its vectors: no embedding endpoint is called."""

    name = MODEL

    async def embed(self, texts, *, timeout=None):  # noqa: ANN001, ANN201
        raise RuntimeError("the bench passes vectors")


def lines(count: int) -> list[str]:
    """``count`` chat lines, mostly small talk, a story line now and then, each numbered."""
    stories = [t.text for c in conversations(3, 5) for t in c.turns if t.text not in SMALL_TALK_A + SMALL_TALK_B]
    talk = SMALL_TALK_A + SMALL_TALK_B
    rng = random.Random(3)
    out = []
    for i in range(count):
        line = rng.choice(stories) if rng.random() < 0.1 else rng.choice(talk)
        # "yeah" opens 40 % of the lines: the common word matched 40,292 of 100,000 rows.
        out.append(f"{'yeah, ' if rng.random() < 0.4 else ''}{line} ({i})")
    return out


async def fill(db: Database, count: int, dims: int) -> int:
    rng = np.random.default_rng(1)
    said = lines(count)
    async with db.engine.begin() as conn:
        user_id = int(
            await conn.scalar(
                insert(User).returning(User.id), {"display_name": "u", "settings": {}, "created_at": START}
            )
        )
    conversation = None
    for start in range(0, count, 2000):
        async with db.engine.begin() as conn:
            if start % 20_000 == 0:  # a conversation per 20,000 messages
                conversation = await conn.scalar(
                    insert(Conversation).returning(Conversation.id),
                    {"user_id": user_id, "platform": "bench", "workspace": "w", "channel": f"c{start}",
                     "thread": "", "created_at": START, "revision": 0},
                )  # fmt: skip
            chunk = range(start, min(count, start + 2000))
            ids = (
                await conn.scalars(
                    insert(Message).returning(Message.id, sort_by_parameter_order=True),
                    [
                        {
                            "conversation_id": conversation,
                            "author_user_id": user_id if i % 2 == 0 else None,
                            "role": "user" if i % 2 == 0 else "assistant",
                            "content": said[i],
                            "attachments": [],
                            "platform_parts": [],
                            "created_at": START + timedelta(minutes=5 * i),
                            "status": "complete",
                            "status_reason": "",
                            "token_count": 8,
                            "model": "",
                        }
                        for i in chunk
                    ],
                )  # fmt: skip
            ).all()
            vectors = rng.standard_normal((len(ids), dims), dtype=np.float32)
            await conn.execute(
                insert(MessageEmbedding),
                [
                    {
                        "message_id": mid,
                        "user_id": user_id,
                        "embedding": vectors[n].astype("<f4").tobytes(),
                        "dims": dims,
                        "model": MODEL,
                        "indexed_at": START,
                    }
                    for n, mid in enumerate(ids)
                ],  # fmt: skip
            )
            await fts.add_rows(conn, user_id, [("message", mid, said[i]) for mid, i in zip(ids, chunk, strict=True)])
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: statistics, and the GIN index's pending list merged.
        async with db.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text("VACUUM ANALYZE"))
    return user_id


async def measure(name: str, url: str, count: int, dims: int, queries: int) -> None:
    db = Database(url)
    await db.migrate()
    started = time.perf_counter()
    user_id = await fill(db, count, dims)
    filled = time.perf_counter() - started
    search = MemorySearch(MemoryStore(db, _NoEmbedder(), clock=ManualClock(START)))  # type: ignore[arg-type]
    rng = np.random.default_rng(2)
    await search.search_vector(user_id, rng.standard_normal(dims).astype(np.float32), "warm up")
    async with db.engine.connect() as conn:
        top = await conn.scalar(text("SELECT count(*) FROM messages WHERE content LIKE 'yeah%'"))
    for group, texts in QUERIES.items():
        times, text_times = [], []
        cpu = 0.0
        for n in range(queries):
            vector = rng.standard_normal(dims).astype(np.float32)
            begun, cpu_begun = time.perf_counter(), time.process_time()
            await search.search_vector(user_id, vector, texts[n % len(texts)])
            times.append(time.perf_counter() - begun)
            cpu += time.process_time() - cpu_begun
            # The full-text part alone, as the search runs it (the word counts remembered).
            async with db.engine.connect() as conn:
                begun = time.perf_counter()
                await fts.search(conn, user_id, texts[n % len(texts)], 4800, documents=count, counts=search.word_counts)
                text_times.append(time.perf_counter() - begun)
        p50, p95, top_ms = _percentiles(times)
        text_p50, text_p95, _ = _percentiles(text_times)
        print(
            f"{name:>10} | {count:>7} | {group:>6} | {p50:>7.1f} | {p95:>7.1f} | {top_ms:>7.1f} | "
            f"{text_p50:>7.1f} | {text_p95:>7.1f} | {cpu / queries * 1000:>7.1f} | {top:>9} | {filled:>6.0f}"
        )
    await db.dispose()


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max in milliseconds."""
    ordered = sorted(samples)
    return (
        ordered[len(ordered) // 2] * 1000,
        ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
        ordered[-1] * 1000,
    )


async def main_async(args: argparse.Namespace) -> None:
    print(f"{'database':>10} | {'rows':>7} | {'words':>6} | {'p50 ms':>7} | {'p95 ms':>7} | {'max ms':>7} | "
          f"{'text p50':>7} | {'text p95':>7} | {'cpu ms':>7} | {'rows yeah':>9} | {'fill s':>6}")  # fmt: skip
    if "sqlite" in args.databases:
        with tempfile.TemporaryDirectory() as folder:
            await measure(
                "sqlite", f"sqlite+aiosqlite:///{Path(folder) / 's.db'}", args.messages, args.dims, args.queries
            )
    if "postgresql" not in args.databases:
        return
    admin = Database(POSTGRES_ADMIN_URL)
    name = f"captainslog_bench_{uuid.uuid4().hex[:8]}"
    try:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OSError:
        print("PostgreSQL skipped: nothing answers")
        await admin.dispose()
        return
    try:
        url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
        await measure("postgresql", url, args.messages, args.dims, args.queries)
    finally:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--databases", default="sqlite,postgresql")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
