"""Two bot processes on one database, and a platform that delivers each message to both: answered once.

Two full bots (each its own ``Container``: engine, discord.py or slack-bolt
client, chat service) share one database, as two ``captainslog run`` processes
would.  The Discord fake sends every event to each gateway session (as Discord
does for two unsharded sessions of one token); the Slack fake sends each
envelope to both Socket Mode connections (as retries and HTTP mode redeliver),
or to one chosen connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.database import Database
from core.db.models import Message
from tests.e2e.platform_bot import (
    PLATFORMS,
    PlatformBot,
    answer_requests,
    open_fake_discord,
    stopped_afterwards,
    wikipedia,  # noqa: F401 - fixture
)
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack
from tests.fakes.wikipedia_server import FakeWikipedia

DROPPED = "is answered by another process"
MESSAGES = 20


class TwoBots:
    """Two bots on one platform fake and one database."""

    def __init__(self, first: PlatformBot, second: PlatformBot) -> None:
        self.first, self.second = first, second

    async def idle(self) -> None:
        await asyncio.gather(self.first.idle(), self.second.idle())


@pytest.fixture(params=PLATFORMS)
async def two_bots(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database: Database,  # emptied for this test
    openai_fake: FakeOpenAI,
    wikipedia: FakeWikipedia,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[TwoBots]:
    async with AsyncExitStack() as stack:
        if request.param == "discord":
            fake = stack.enter_context(open_fake_discord(monkeypatch))
            fakes = {"discord_fake": fake}
        else:
            fakes = {"slack_fake": stack.enter_context(FakeSlack())}
        bots = []
        for name in ("one", "two"):
            bot = PlatformBot(request.param, tmp_path / name, database.url, openai_fake, wikipedia, **fakes)
            await stack.enter_async_context(stopped_afterwards(bot))
            await bot.start()
            bots.append(bot)
        if request.param == "discord":
            await fake.await_connected(count=2, timeout=10)
        else:
            await fakes["slack_fake"].await_for(lambda: fakes["slack_fake"].connected_clients() == 2, timeout=10)
        yield TwoBots(*bots)


async def user_rows(database: Database) -> list[str]:
    async with database.session() as session:
        return list((await session.scalars(select(Message.content).where(Message.role == "user"))).all())


def dropped(caplog: pytest.LogCaptureFixture) -> int:
    return sum(DROPPED in record.getMessage() for record in caplog.records)


async def test_every_message_delivered_to_both_processes_is_answered_once(
    two_bots: TwoBots, database: Database, openai_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters")
    bot = two_bots.first
    users = [bot.new_user(f"user{n}") for n in range(MESSAGES)]
    before = {user: len(bot.texts(user)) for user in users}

    for n, user in enumerate(users):
        if bot.discord is not None:
            bot.discord.user_sends_dm(user, f"hello {n}")
        else:
            assert bot.slack is not None
            bot.slack.user_sends_dm(user, f"hello {n}")
    answers = await asyncio.gather(*(bot.new_texts(user, before[user]) for user in users))
    # Both processes got every message: wait until the second copy of each was dropped.
    await wait_for(lambda: dropped(caplog) >= MESSAGES)
    await two_bots.idle()

    assert answers == [[f"You said: hello {n}"] for n in range(MESSAGES)]
    assert [bot.texts(user) for user in users] == answers, "no second answer anywhere"
    assert dropped(caplog) == MESSAGES
    assert len(answer_requests(openai_fake)) == MESSAGES
    assert sorted(await user_rows(database)) == sorted(f"hello {n}" for n in range(MESSAGES))


async def wait_for(condition, timeout: float = 20.0) -> None:  # noqa: ANN001 - a predicate
    """Poll ``condition`` (a count kept by another component) until it holds; fail at the deadline."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
