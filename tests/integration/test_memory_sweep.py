"""After a model outage the memory sweep catches up on its own: no new message is needed.

The embeddings endpoint of the fake OpenAI answers 503 while "down" (so embedding, and
memory extraction, which searches the known memories first, fail); the sweep runs on
the manual clock, which the test moves a minute at a time (no wall-clock waits).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from aiohttp import web
from sqlalchemy import func, select

from core.clock import ManualClock
from core.db.database import Database
from core.db.models_extraction import PendingExtraction
from core.db.models_memory import MessageEmbedding
from core.db.repositories import UserRepository
from core.llm import OpenAIModel
from core.memory.sweep import SWEEP_INTERVAL
from core.memory.wiring import MemorySettings
from tests.chat_helpers import ALICE, say
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply, topic_embedding
from tests.feature_helpers import add_memory

HANG = 30.0  # seconds of real time before a wait counts as a hang (against a hang only)
SISTER = "Ana, the user's sister, lives in Lisbon."
DOG = "The user's dog is called Rex."


def down(text: str, dim: int) -> list[float]:
    raise web.HTTPServiceUnavailable(text="embeddings are down")


async def until(condition: Callable[[], object], what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + HANG
    while not condition():
        if loop.time() > end:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def count(db: Database, table: type) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


def extraction_answer(body: dict) -> Reply:
    """The model's structured answer: the fact in the message it was shown."""
    text = body["messages"][-1]["content"]
    fact = SISTER if "sister" in text else DOG
    return Reply(json.dumps({"memories": [{"text": fact, "replaces": None}]}))


async def test_after_the_embeddings_endpoint_comes_back_the_sweep_indexes_and_extracts_all_that_waited(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(TEST_NOW)
    chat = make_chat_service(database, model, clock=clock, sleep=clock.sleep)
    memory = add_memory(chat, model, MemorySettings(embedding_dimensions=256))
    await chat.tasks.wait_idle()

    async def swept() -> None:
        """Move the clock a sweep interval on and wait until that pass is over (the sweep sleeps again)."""
        await until(lambda: clock.sleepers == 1, "the sweep to wait for its next pass")
        clock.advance(seconds=SWEEP_INTERVAL)
        await until(lambda: clock.sleepers == 1, "the pass to end")

    try:
        openai_fake.embedder = down
        openai_fake.queue(Reply("Noted!"))
        await say(chat, "Remember that my sister Ana lives in Lisbon", platform_message_id="m1")
        openai_fake.queue(Reply("What a name."))
        await say(chat, "My dog is called Rex, remember it", platform_message_id="m2")
        await chat.tasks.wait_idle()  # the after-answer steps gave up quickly: nothing retries in the background
        assert (await count(database, MessageEmbedding), await count(database, PendingExtraction)) == (0, 2)

        await swept()  # a pass while the endpoint is still down changes nothing and loses nothing
        assert (await count(database, MessageEmbedding), await count(database, PendingExtraction)) == (0, 2)
        assert chat.tasks.failures == 0

        openai_fake.embedder = topic_embedding  # the endpoint is back
        openai_fake.default = extraction_answer
        requests_before = len(openai_fake.chat_requests())
        await swept()

        # Everything pending is indexed and extracted, with no new message from anyone.
        assert await count(database, MessageEmbedding) == 4  # two questions, two answers
        assert await count(database, PendingExtraction) == 0
        assert len(openai_fake.chat_requests()) == requests_before + 2  # the two extractions, nothing else
        alice = await UserRepository(database).find(ALICE)
        assert alice is not None
        assert sorted(m.text for m in await memory.store.list_memories(alice.id)) == sorted([SISTER, DOG])
        hits = await memory.search.search(alice.id, "sister in Lisbon", limit=3, kinds=("message",))
        assert any("Lisbon" in hit.text for hit in hits)
    finally:
        await chat.close()  # drains the task group: the sweep loop ends with it
    assert chat.tasks.running == 0


async def test_the_sweep_handles_a_bounded_batch_per_pass(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(TEST_NOW)
    chat = make_chat_service(database, model, clock=clock, sleep=clock.sleep)
    memory = add_memory(chat, model, MemorySettings(embedding_dimensions=256, extraction=False))
    await chat.tasks.wait_idle()
    try:
        openai_fake.embedder = down
        for i in range(3):
            openai_fake.queue(Reply(f"Answer {i}."))
            await say(chat, f"Message number {i} about the harbour", platform_message_id=f"m{i}")
        await chat.tasks.wait_idle()
        openai_fake.embedder = topic_embedding
        memory.sweep.batch = 4
        first = await memory.sweep.sweep_once()
        second = await memory.sweep.sweep_once()
        assert (first.indexed, second.indexed) == (4, 2)
        assert await count(database, MessageEmbedding) == 6
    finally:
        await chat.close()
