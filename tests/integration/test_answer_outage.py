"""The database goes away across the end of an answer: what is stored is what the user saw.

The outage is real (tests/outage_helpers.py: a cut TCP relay in front of PostgreSQL,
an exclusive lock on the SQLite file); the waits between attempts run on the manual
clock, which the test moves, so a 70 s outage takes no 70 s.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

import pytest
from sqlalchemy import select

from core.chat import RESTART_REASON, ChatService
from core.clock import ManualClock
from core.context import NOT_SAVED_REASON
from core.db.database import Database
from core.db.models import Message
from core.llm import OpenAIModel
from core.types import AnswerComplete, IncomingMessage, MessageStatus, TextDelta, TurnDone, TurnEvent
from tests.chat_helpers import ALICE, PLACE, say
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.outage_helpers import DatabaseOutage, outage_of

STORY = " ".join(f"Sentence {i} of the long answer about the harbour, the tide and the rope." for i in range(16))
HANG = 30.0  # seconds of real time before a wait counts as a hang (against a hang only)


@pytest.fixture
async def outage(database_url: str, database: Database) -> AsyncIterator[DatabaseOutage]:
    """The test database (emptied by `database`) behind an outage switch."""
    async with outage_of(database_url) as switch:
        yield switch


async def until(condition: Callable[[], object], what: str) -> None:
    """Yield to the loop until ``condition()`` holds (a deadline only against a hang)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + HANG
    while not ((await held) if inspect.isawaitable(held := condition()) else held):
        if loop.time() > end:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


async def rows(db: Database) -> list[Message]:
    async with db.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


class Turn:
    """A turn consumed in the background, its events kept as they come."""

    def __init__(self, chat: ChatService, text: str, message_id: str) -> None:
        self.events: list[TurnEvent] = []
        incoming = IncomingMessage(PLACE, ALICE, text, TEST_NOW, platform_message_id=message_id)
        self.task = asyncio.create_task(self._run(chat.turn(incoming)))

    async def _run(self, turn: AsyncIterator[TurnEvent]) -> None:
        async with aclosing(turn) as events:
            async for event in events:
                self.events.append(event)

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    def saw(self, kind: type) -> bool:
        return any(isinstance(e, kind) for e in self.events)


async def answer_into_outage(chat: ChatService, db: Database, outage: DatabaseOutage, clock: ManualClock) -> Turn:
    """Start an answer, let part of it reach the database, take the database away, let the answer end."""
    turn = Turn(chat, "Tell me the long story", "m1")
    await until(lambda: len(turn.text) > 200, "the first part of the answer")

    async def checkpointed() -> bool:
        answer = (await rows(db))[-1]
        return answer.status == MessageStatus.STREAMING and len(answer.content) > 100

    await until(checkpointed, "a checkpoint with part of the text")
    await outage.begin()
    await until(lambda: turn.saw(AnswerComplete), "the end of the answer on screen")
    await until(lambda: clock.sleepers, "the first retry of the final write")
    return turn


async def test_an_answer_ending_in_a_70s_outage_is_stored_whole_and_the_next_turn_waits_for_it(
    outage: DatabaseOutage, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(TEST_NOW)
    db = await outage.database()
    chat = make_chat_service(db, model, clock=clock, sleep=clock.sleep, checkpoint_interval=0)
    openai_fake.queue(Reply(STORY, delay=0.002), Reply("And the rope held."))
    try:
        first = await answer_into_outage(chat, db, outage, clock)
        second = Turn(chat, "And then?", "m2")
        waited = 0.0
        while waited < 70:  # the outage lasts 70 s of the clock; the write keeps being tried
            await until(lambda: clock.sleepers, "the next retry")
            clock.advance(seconds=10)
            waited += 10
            await asyncio.sleep(0)
        assert not first.saw(TurnDone)
        assert second.events == []  # the conversation's next turn waits for the answer to be stored
        assert first.text == STORY  # the user saw all of it

        await outage.end()
        await until(lambda: clock.sleepers or first.task.done(), "the next retry")
        clock.advance(seconds=10)
        await asyncio.wait_for(first.task, HANG)
        await asyncio.wait_for(second.task, HANG)

        assert first.saw(TurnDone)
        assert second.text == "And the rope held."
        stored = await rows(db)
        assert [(m.role, m.status) for m in stored] == [
            ("user", MessageStatus.COMPLETE),
            ("assistant", MessageStatus.COMPLETE),
            ("user", MessageStatus.COMPLETE),
            ("assistant", MessageStatus.COMPLETE),
        ]
        assert stored[1].content == STORY  # stored as shown
        answer_seen_next = [m["content"] for m in openai_fake.last_messages() if m["role"] == "assistant"]
        assert len(answer_seen_next) == 1 and STORY in answer_seen_next[0]
        assert "cut off" not in answer_seen_next[0]
    finally:
        await chat.close()
        await db.dispose()


async def test_when_the_outage_outlasts_the_retries_the_next_turn_and_a_restart_see_the_answer_as_cut_off(
    outage: DatabaseOutage, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(TEST_NOW)
    db = await outage.database()
    chat = make_chat_service(db, model, clock=clock, sleep=clock.sleep, checkpoint_interval=0)
    openai_fake.queue(Reply(STORY, delay=0.002), Reply("Where was I?"))
    try:
        first = await answer_into_outage(chat, db, outage, clock)
        while not first.task.done():  # five minutes of the clock, then the final write gives up
            await until(lambda: clock.sleepers or first.task.done(), "a retry or the end")
            clock.advance(seconds=10)
            await asyncio.sleep(0)
        await first.task  # ended without an error, though the database is still away
        assert first.text == STORY and first.saw(TurnDone)
        await outage.end()

        # The next turn reads the stored part and is told that it is not the whole answer.
        reply = await say(chat, "Go on", platform_message_id="m2")
        assert reply.text == "Where was I?"
        earlier = [m["content"] for m in openai_fake.last_messages() if m["role"] == "assistant"]
        assert len(earlier) == 1 and earlier[0] != STORY
        assert earlier[0].endswith(f"[this answer was cut off: {NOT_SAVED_REASON}]")

        # A restart (a second service: the first is as good as dead) closes the answer off with its reason.
        restarted = make_chat_service(db, model, clock=clock)
        interrupted = await restarted.recover_interrupted("test")
        assert [i.message_id for i in interrupted] == [first.events[0].answer_message_id]  # type: ignore[attr-defined]
        answer = next(m for m in await rows(db) if m.id == interrupted[0].message_id)
        assert (answer.status, answer.status_reason) == (MessageStatus.PARTIAL, RESTART_REASON)
        assert STORY.startswith(answer.content) and 100 < len(answer.content) < len(STORY)
        await restarted.close()
    finally:
        await chat.close()
        await db.dispose()
