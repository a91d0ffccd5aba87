"""Cold load of one user's vector index from the database.

    .venv/bin/python -m bench.memory_load [--rows 20000] [--dims 1536]

The first search of a user after a start reads all their embeddings in one
query and builds the index (core/memory/vectors.py).  This stores ``--rows``
messages with embeddings for one user (a SQLite file, then a temporary
PostgreSQL database when one answers on 127.0.0.1:5432) and times that first
load, then a second call (nothing new: one indexed query).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.db.models_memory import MessageEmbedding
from core.memory.vectors import UserVectors

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2026, 1, 1, tzinfo=UTC)
MODEL = "text-embedding-3-small"


async def fill(db: Database, rows: int, dims: int) -> int:
    rng = np.random.default_rng(1)
    async with db.engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).returning(User.id), {"display_name": "u", "settings": {}, "created_at": START}
        )
        conversation = await conn.scalar(
            insert(Conversation).returning(Conversation.id),
            {
                "user_id": user_id,
                "platform": "bench",
                "workspace": "w",
                "channel": "c",
                "thread": "",
                "created_at": START,
                "revision": 0,
            },
        )
    for start in range(0, rows, 2000):
        count = min(2000, rows - start)
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
            vectors = rng.standard_normal((count, dims), dtype=np.float32)
            await conn.execute(
                insert(MessageEmbedding),
                [
                    {
                        "message_id": mid,
                        "user_id": user_id,
                        "embedding": vectors[i].astype("<f4").tobytes(),
                        "dims": dims,
                        "model": MODEL,
                        "indexed_at": START,
                    }
                    for i, mid in enumerate(ids)
                ],
            )
    return int(user_id)


async def measure(name: str, url: str, rows: int, dims: int) -> None:
    db = Database(url)
    await db.migrate()
    user_id = await fill(db, rows, dims)
    vectors = UserVectors(db, MODEL)
    started = time.perf_counter()
    index = await vectors.get(user_id, "message")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    await vectors.get(user_id, "message")
    warm = time.perf_counter() - started
    assert index is not None and len(index) == rows
    print(f"{name:>10} | {rows:>7} | {dims:>5} | {cold:>10.2f} | {warm * 1000:>9.2f}")
    await db.dispose()


async def main_async(rows: int, dims: int) -> None:
    print(f"{'database':>10} | {'rows':>7} | {'dims':>5} | {'cold load s':>10} | {'refresh ms':>9}")
    with tempfile.TemporaryDirectory() as folder:
        await measure("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'load.db'}", rows, dims)
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
        await measure("postgresql", make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False), rows, dims)
    finally:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=1536)
    args = parser.parse_args()
    asyncio.run(main_async(args.rows, args.dims))


if __name__ == "__main__":
    main()
