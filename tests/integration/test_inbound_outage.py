"""Messages that arrive while the database cannot be written are held, not lost.

Each message goes the way an adapter sends it: `StrangerGate.check`, then `ChatService.turn`.
Three real faults: PostgreSQL gone for 20 s (a cut TCP relay in front of the server), a
SQLite write lock held past the busy timeout for 15 s, and a full disk (the SQLite file on
a 2 MB tmpfs filled up by another file; needs permission to mount, else skipped). The
waits between attempts run on the manual clock that the test moves.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.strangers import StrangerGate
from core.chat import ChatService
from core.chat.holding import SAVING_DELAYED
from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Message
from core.llm import OpenAIModel
from core.types import (
    ConversationRef,
    IncomingMessage,
    PlatformIdentity,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
)
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI
from tests.outage_helpers import DatabaseOutage, outage_of

HANG = 60.0  # seconds of real time before a wait counts as a hang (against a hang only)
ALICE = PlatformIdentity("test", "w1", "alice", display_name="Alice")  # answered before the outage
BOB = PlatformIdentity("test", "w1", "bob", display_name="Bob")  # first message during the outage
ALICE_DM = ConversationRef("test", "w1", "dm-alice")
BOB_DM = ConversationRef("test", "w1", "dm-bob")


async def until(condition: Callable[[], object], what: str) -> None:
    """Yield to the loop until ``condition()`` holds (a deadline only against a hang)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + HANG
    while not condition():
        if loop.time() > end:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


class Arrival:
    """One platform message as an adapter handles it: the gate, then the turn, in the background."""

    def __init__(self, gate: StrangerGate, chat: ChatService, who: PlatformIdentity, place: ConversationRef, text: str):
        self.text = text
        self.events: list[TurnEvent] = []
        incoming = IncomingMessage(place, who, text, TEST_NOW, platform_message_id=f"{who.user_id}-{text}")
        self.task = asyncio.create_task(self._run(gate, chat, incoming))

    async def _run(self, gate: StrangerGate, chat: ChatService, incoming: IncomingMessage) -> None:
        verdict = await gate.check(incoming.author)
        assert verdict.allowed, verdict
        async with aclosing(chat.turn(incoming)) as events:
            async for event in events:
                self.events.append(event)

    @property
    def answer(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def notices(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, StatusUpdate) and e.text]


async def stored(db: Database) -> list[tuple[int | None, str, str]]:
    async with db.session() as session:
        rows = (await session.scalars(select(Message).order_by(Message.id))).all()
    return [(m.conversation_id, m.role, m.content) for m in rows]


async def messages_held_through(
    chat: ChatService,
    clock: ManualClock,
    begin: Callable[[], Awaitable[None]],
    end: Callable[[], Awaitable[None]],
    seconds: int,
) -> list[Arrival]:
    """Alice (known) and Bob (new) write while the database is away for ``seconds`` of the clock."""
    gate = StrangerGate(chat.people, clock=clock, sleep=clock.sleep)
    before = Arrival(gate, chat, ALICE, ALICE_DM, "good morning")
    await asyncio.wait_for(before.task, HANG)
    await begin()
    arrivals = [
        Arrival(gate, chat, ALICE, ALICE_DM, "first while away"),
        Arrival(gate, chat, BOB, BOB_DM, "hello, I am new"),
        Arrival(gate, chat, ALICE, ALICE_DM, "second while away"),
    ]
    waited = 0
    while waited < seconds:
        await until(lambda: clock.sleepers >= 2, "both conversations to wait for the database")
        clock.advance(seconds=5)
        waited += 5
        await asyncio.sleep(0)
    for arrival in arrivals:
        assert not arrival.task.done() and arrival.answer == ""  # held, not answered, not refused
    await end()
    while not all(arrival.task.done() for arrival in arrivals):
        await until(lambda: clock.sleepers or all(a.task.done() for a in arrivals), "the held turns to go on")
        clock.advance(seconds=15)
        await asyncio.sleep(0)
    for arrival in arrivals:
        await arrival.task
    return arrivals


async def assert_answered_in_order(arrivals: list[Arrival], db: Database) -> None:
    first, bobs, second = arrivals
    for arrival in arrivals:
        assert arrival.answer.startswith("You said: ") and arrival.answer.endswith(arrival.text)  # after its stamp
        assert not any(isinstance(e, TurnError) for e in arrival.events)
        assert any(isinstance(e, TurnDone) for e in arrival.events)
    # Told once per conversation that saving is delayed; the message waiting behind is just answered.
    assert first.notices == [SAVING_DELAYED] and bobs.notices == [SAVING_DELAYED] and second.notices == []
    rows = await stored(db)
    alice_conversation = rows[0][0]
    alice = [(role, text) for conversation, role, text in rows if conversation == alice_conversation]
    bob = [(role, text) for conversation, role, text in rows if conversation != alice_conversation]
    assert alice[2:] == [
        ("user", "first while away"),
        ("assistant", first.answer),
        ("user", "second while away"),
        ("assistant", second.answer),
    ]
    assert [role for role, _ in alice[:2]] == ["user", "assistant"]  # good morning, before the outage
    assert bob == [("user", "hello, I am new"), ("assistant", bobs.answer)]


@pytest.fixture
async def outage(database_url: str, database: Database) -> AsyncIterator[DatabaseOutage]:
    async with outage_of(database_url) as switch:
        yield switch


async def test_messages_sent_while_the_database_is_away_are_held_then_answered_in_order(
    outage: DatabaseOutage, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    """PostgreSQL down 20 s (the access check reads the cache), or a SQLite write lock held 15 s."""
    clock = ManualClock(TEST_NOW)
    db = await outage.database()
    chat = make_chat_service(db, model, clock=clock, sleep=clock.sleep)
    seconds = 20 if outage.dialect == "postgresql" else 15
    try:
        arrivals = await messages_held_through(chat, clock, outage.begin, outage.end, seconds)
        await assert_answered_in_order(arrivals, db)
    finally:
        await chat.close()
        await db.dispose()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> AsyncIterator[Path]:
    """A 2 MB tmpfs mounted for this test (skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_messages_sent_while_the_disk_is_full_are_held_then_answered_in_order(
    tiny_disk: Path, sqlite_template: Path, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    path = tiny_disk / "captainslog.db"
    shutil.copy(sqlite_template, path)
    filler = tiny_disk / "filler"
    clock = ManualClock(TEST_NOW)
    db = Database(f"sqlite+aiosqlite:///{path}")
    chat = make_chat_service(db, model, clock=clock, sleep=clock.sleep)

    async def fill() -> None:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # every free block, as another program filling the disk does
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    async def free() -> None:
        filler.unlink()

    try:
        arrivals = await messages_held_through(chat, clock, fill, free, 20)
        await assert_answered_in_order(arrivals, db)
    finally:
        await chat.close()
        await db.dispose()
