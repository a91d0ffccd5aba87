"""The memory vector indexes stay within their budget, stay exact after eviction, and load off the event loop."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import FrameType

import numpy as np
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from core.db.database import Database
from core.db.models import Message
from core.db.models_memory import MessageEmbedding
from core.memory.index import VectorIndex
from core.memory.vectors import UserVectors
from tests.memory_helpers import add_conversation, add_user

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MODEL = "text-embedding-3-small"
DIMS = 256


async def user_with_vectors(db: Database, name: str, rows: int, seed: int) -> tuple[int, list[int], np.ndarray]:
    """A user with ``rows`` indexed messages; returns their id, the message ids and the vectors."""
    user = await add_user(db, name)
    conversation = await add_conversation(db, user.id, "discord", name, START)
    vectors = np.random.default_rng(seed).standard_normal((rows, DIMS)).astype(np.float32)
    async with db.engine.begin() as conn:
        ids = (
            await conn.scalars(
                insert(Message).returning(Message.id, sort_by_parameter_order=True),
                [
                    {
                        "conversation_id": conversation,
                        "author_user_id": user.id,
                        "role": "user",
                        "content": f"{name} {i}",
                        "attachments": [],
                        "platform_parts": [],
                        "created_at": START + timedelta(minutes=i),
                        "status": "complete",
                        "status_reason": "",
                        "token_count": 2,
                        "model": "",
                    }
                    for i in range(rows)
                ],
            )
        ).all()
        await conn.execute(
            insert(MessageEmbedding),
            [
                {
                    "message_id": message_id,
                    "user_id": user.id,
                    "embedding": vectors[i].astype("<f4").tobytes(),
                    "dims": DIMS,
                    "model": MODEL,
                    "indexed_at": START,
                }
                for i, message_id in enumerate(ids)
            ],
        )
    return user.id, list(ids), vectors


def brute_force(vectors: np.ndarray, ids: list[int], query: np.ndarray, k: int) -> list[int]:
    rows = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = rows @ (query / np.linalg.norm(query))
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


async def test_past_the_budget_the_least_recently_searched_user_is_dropped_and_reloads_exact(
    database: Database, tmp_path
) -> None:
    users = [await user_with_vectors(database, name, 1500, seed) for seed, name in enumerate(("ann", "bo", "cy"))]
    one_index = 1500 * DIMS + 1500 * 200  # int8 rows plus ids, times, bounds and the id map, roughly
    vectors = UserVectors(
        database, MODEL, quantize_above=500, budget_bytes=int(2.5 * one_index), spill_dir=tmp_path / "index", batch=400
    )
    query = np.random.default_rng(99).standard_normal(DIMS).astype(np.float32)

    for user_id, _, _ in users:
        assert await vectors.get(user_id, "message") is not None
    ann, bo, cy = (user_id for user_id, _, _ in users)
    assert vectors.loaded_users() == {bo, cy}  # ann was searched longest ago
    assert vectors.resident_bytes <= vectors.budget_bytes

    await vectors.get(bo, "message")  # bo is now the most recent: loading ann again drops cy
    reloaded = await vectors.get(ann, "message")
    assert vectors.loaded_users() == {ann, bo}
    assert reloaded is not None and len(reloaded) == 1500
    user_id, ids, rows = users[0]
    assert [hit.id for hit in reloaded.search(query, 10)] == brute_force(rows, ids, query, 10)


async def test_a_large_index_keeps_only_its_int8_copy_in_memory_and_stays_exact(database: Database, tmp_path) -> None:
    user_id, ids, rows = await user_with_vectors(database, "dee", 3000, 7)
    vectors = UserVectors(database, MODEL, quantize_above=1000, spill_dir=tmp_path / "index", batch=700)

    index = await vectors.get(user_id, "message")

    assert index is not None and len(index) == 3000
    assert index.nbytes < rows.nbytes / 2  # float32 would be four bytes a value, the int8 copy is one
    assert list((tmp_path / "index").iterdir()) == []  # the exact rows' file has no name: nothing is left behind
    rng = np.random.default_rng(3)
    for trial in range(20):
        query = rng.standard_normal(DIMS).astype(np.float32)
        if trial % 2:
            query = rows[rng.integers(len(rows))] + 0.3 * query  # near a stored row
        assert [hit.id for hit in index.search(query, 10)] == brute_force(rows, ids, query, 10)
    assert np.allclose(index.vector(ids[5]), rows[5] / np.linalg.norm(rows[5]), atol=1e-6)


async def test_a_cold_load_builds_its_index_off_the_event_loop(database: Database, tmp_path) -> None:
    user_id, _, _ = await user_with_vectors(database, "eve", 4000, 11)
    vectors = UserVectors(database, MODEL, quantize_above=1000, spill_dir=tmp_path / "index", batch=250)
    heavy = {VectorIndex.add.__code__, VectorIndex.trim.__code__}  # per-row work: parse, normalise, quantise, write
    on_the_loop: list[str] = []

    def watch(frame: FrameType, event: str, _: object) -> None:
        if event == "call" and frame.f_code in heavy:
            on_the_loop.append(frame.f_code.co_name)

    sys.setprofile(watch)  # this thread only: the one running the event loop
    try:
        index = await vectors.get(user_id, "message")
    finally:
        sys.setprofile(None)

    assert index is not None and len(index) == 4000
    assert on_the_loop == []  # every batch was added in a worker thread, the loop only fetched


async def test_rows_removed_during_a_cold_load_are_not_in_the_index_it_publishes(database: Database, tmp_path) -> None:
    user_id, ids, _ = await user_with_vectors(database, "fay", 2000, 5)
    vectors = UserVectors(database, MODEL, quantize_above=500, spill_dir=tmp_path / "index", batch=300)

    loading = asyncio.create_task(vectors.get(user_id, "message"))
    await asyncio.sleep(0)  # the load has started and has not finished
    vectors.drop(user_id, "message", [ids[0], ids[-1]])
    index = await loading

    assert index is not None and len(index) == 1998 and ids[0] not in index and ids[-1] not in index


async def test_a_cold_load_cut_off_by_the_database_is_loaded_whole_at_the_next_search(
    database: Database, tmp_path
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("cutting a live connection is a PostgreSQL fault")
    user_id, ids, rows = await user_with_vectors(database, "gus", 3000, 13)
    vectors = UserVectors(database, MODEL, quantize_above=500, spill_dir=tmp_path / "index", batch=300)
    # A cold load adds each batch in a worker thread and waits for it before the next: with one worker the
    # test can hold the load between two batches, so the cut always lands mid-load (it could finish first).
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))

    loading = asyncio.create_task(vectors.get(user_id, "message"))
    key = (user_id, "message")
    while key not in vectors._loaded or vectors._loaded[key].last_row_id == 0:  # noqa: ASYNC110 - a batch is in
        await asyncio.sleep(0)
    release = threading.Event()
    held = loop.run_in_executor(None, release.wait)  # the next batch's add waits behind this
    async with database.engine.connect() as conn:  # what a server restart does to the load's connection
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    release.set()
    await held
    with pytest.raises(DBAPIError):
        await loading

    index = await vectors.get(user_id, "message")

    assert index is not None and len(index) == 3000
    query = np.random.default_rng(5).standard_normal(DIMS).astype(np.float32)
    assert [hit.id for hit in index.search(query, 10)] == brute_force(rows, ids, query, 10)
