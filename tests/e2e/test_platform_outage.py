"""PostgreSQL goes away under the running bot (Discord and Slack): messages sent meanwhile are
held, the user is told once, and every one is answered in order when the database is back.

The bot is the real container on the platform's fake; its database URL points at a TCP relay
in front of the shared PostgreSQL server (tests/outage_helpers.py), which the test closes and
opens again (the shared server itself is never touched). The outage ends once the user has
been shown the delay notice: an event, not a timer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import select, text

from core.db.database import Database
from core.db.models import Message
from tests.conftest import TABLES
from tests.e2e.platform_bot import (
    PLATFORMS,
    PlatformBot,
    open_fake_discord,
    stopped_afterwards,
    wikipedia,  # noqa: F401 - fixture
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.fakes.wikipedia_server import FakeWikipedia
from tests.outage_helpers import DatabaseOutage, outage_of

NOTICE = "I can't save messages right now"

pytestmark = pytest.mark.postgres


@pytest.fixture
async def outage(postgres_url: str) -> AsyncIterator[DatabaseOutage]:
    """The session's PostgreSQL database, emptied, behind a relay the test can cut."""
    db = Database(postgres_url)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    await db.dispose()
    async with outage_of(postgres_url) as switch:
        yield switch


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_messages_sent_while_postgresql_is_down_are_answered_in_order_when_it_is_back(
    platform: str,
    outage: DatabaseOutage,
    postgres_url: str,
    tmp_path: Path,
    openai_fake: FakeOpenAI,
    wikipedia: FakeWikipedia,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relayed = await outage.database()
    async with AsyncExitStack() as stack:
        if platform == "discord":
            fakes = {"discord_fake": stack.enter_context(open_fake_discord(monkeypatch))}
        else:
            fakes = {"slack_fake": stack.enter_context(FakeSlack())}
        bot = PlatformBot(platform, tmp_path, relayed.url, openai_fake, wikipedia, **fakes)
        await stack.enter_async_context(stopped_afterwards(bot))
        await bot.start()
        ana, bo = bot.new_user("ana"), bot.new_user("bo")
        assert await bot.says(ana, "good morning") == "You said: good morning"  # Ana is known from now on
        await bot.idle()  # and that answer is stored
        before = {ana: len(bot.texts(ana)), bo: len(bot.texts(bo))}

        await outage.begin()
        sends = [(ana, "first while away"), (bo, "hello, I am new"), (ana, "second while away")]
        for user, words in sends:
            if bot.discord is not None:
                bot.discord.user_sends_dm(user, words)
            else:
                assert bot.slack is not None
                bot.slack.user_sends_dm(user, words)

        def told(*_: object) -> bool | None:
            shown = [t for user in (ana, bo) for t in bot.shown_while_answering(user)]
            return True if sum(NOTICE in t for t in shown) >= 2 else None

        if bot.discord is not None:
            await bot.discord.await_for(told, 30)
        else:
            assert bot.slack is not None
            await bot.slack.await_for(told, timeout=30)
        await outage.end()

        got = await bot.new_texts(ana, before[ana], count=2)
        # Both answered (the order of the two placeholders on screen is the adapter's race, not
        # this test's subject; the order of the answers is checked in the database below).
        assert sorted(got) == ["You said: first while away", "You said: second while away"]
        assert await bot.new_texts(bo, before[bo]) == ["You said: hello, I am new"]
        await bot.idle()

    db = Database(postgres_url)
    try:
        async with db.session() as session:
            rows = (await session.scalars(select(Message).order_by(Message.id))).all()
    finally:
        await db.dispose()
        await relayed.dispose()
    anas = [m.content for m in rows if m.conversation_id == rows[0].conversation_id]
    assert anas == [
        "good morning",
        "You said: good morning",
        "first while away",
        "You said: first while away",
        "second while away",
        "You said: second while away",
    ]
    assert [m.content for m in rows if m.conversation_id != rows[0].conversation_id] == [
        "hello, I am new",
        "You said: hello, I am new",
    ]
