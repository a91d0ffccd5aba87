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
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from core.chat.turn import DELETED_BEFORE_ANSWER
from core.commands import CommandRequest
from core.db.database import Database
from core.db.models import Identity, Message
from core.db.models_inbound import InboundMessage
from core.types import ConversationRef, PlatformIdentity
from tests.e2e.platform_bot import (
    PLATFORMS,
    PlatformBot,
    answer_requests,
    last_user_text,
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


@pytest.fixture
def bot_settings() -> dict[str, object]:
    """Settings of both bots over :class:`PlatformBot`'s (a test parametrizes this to change them)."""
    return {}


@pytest.fixture(params=PLATFORMS)
async def two_bots(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database: Database,  # emptied for this test
    openai_fake: FakeOpenAI,
    wikipedia: FakeWikipedia,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
    bot_settings: dict[str, object],
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
            await bot.start(**bot_settings)
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
    # A deadline against a hang only: 20 answers at once share the workspace's edit budget.
    answers = await asyncio.gather(*(bot.new_texts(user, before[user], timeout=60) for user in users))
    # Both processes got every message: wait until the second copy of each was dropped.
    await wait_for(lambda: dropped(caplog) >= MESSAGES)
    await two_bots.idle()

    assert answers == [[f"You said: hello {n}"] for n in range(MESSAGES)]
    assert [bot.texts(user) for user in users] == answers, "no second answer anywhere"
    assert dropped(caplog) == MESSAGES
    assert len(answer_requests(openai_fake)) == MESSAGES
    assert sorted(await user_rows(database)) == sorted(f"hello {n}" for n in range(MESSAGES))


async def test_a_slash_command_delivered_to_both_processes_runs_once(
    two_bots: TwoBots, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters")
    bot = two_bots.first
    user = bot.new_user("ada")

    answer = await bot.command(user, "help")
    await wait_for(lambda: sum("is run by another process" in r.getMessage() for r in caplog.records) == 1)
    await two_bots.idle()

    assert "/help" in answer.text
    if bot.discord is not None:
        assert len(bot.discord.interaction_responses) == 1
    else:
        assert bot.slack is not None
        assert len(bot.slack.response_url_posts) == 1


@pytest.mark.parametrize("bot_settings", [{"allowed_accounts": ["discord:0:nobody", "slack:T0:nobody"]}])
async def test_a_stranger_writing_to_two_processes_is_refused_once(
    two_bots: TwoBots, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters")
    bot = two_bots.first
    stranger = bot.new_user("mallory")

    refusal = await bot.says(stranger, "let me in")
    await wait_for(lambda: dropped(caplog) == 1)
    await two_bots.idle()

    assert "not" in refusal.lower() or "sign in" in refusal.lower(), refusal
    assert bot.texts(stranger) == [refusal], "one refusal, from one process"


@pytest.mark.parametrize("two_bots", ["slack"], indirect=True)
async def test_an_edit_and_a_deletion_reaching_the_other_process_apply_to_messages_waiting_in_line(
    two_bots: TwoBots, database: Database, openai_fake: FakeOpenAI
) -> None:
    # Socket Mode hands each envelope to one connection: the messages go to the first
    # process, their edit and deletion to the second, while they wait behind a held answer.
    slack = two_bots.first.slack
    assert slack is not None
    user = two_bots.first.new_user("ada")
    channel = slack.dm_channel(user)
    release = threading.Event()
    openai_fake.queue(Reply("first answer", hold=release))
    slack.deliver_to = 0
    slack.user_sends_dm(user, "one")
    await wait_for(lambda: len(answer_requests(openai_fake)) == 1)
    two = slack.user_sends_dm(user, "two")
    three = slack.user_sends_dm(user, "three")
    await wait_for_rows(database, lambda rows: len(rows) == 3)  # claimed by the first process, waiting in line

    slack.deliver_to = 1
    slack.user_edits(channel, two["ts"], "two, edited")
    slack.user_deletes(channel, three["ts"])
    await wait_for_rows(database, lambda rows: ("two, edited", False) in rows and (None, True) in rows)
    release.set()
    texts = await two_bots.first.new_texts(user, 0, count=3)
    await two_bots.idle()

    assert texts[:2] == ["first answer", "You said: two, edited"]
    assert DELETED_BEFORE_ANSWER in texts[2] and len(texts) == 3
    assert [last_user_text(body) for body in answer_requests(openai_fake)] == ["one", "two, edited"]
    assert await user_rows(database) == ["one", "two, edited", ""]


async def wait_for_rows(database: Database, condition, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Poll the claimed messages' (edited text, deleted) until ``condition`` holds for them."""
    table = InboundMessage.__table__

    async def rows() -> list[tuple[str | None, bool]]:
        async with database.engine.connect() as connection:
            found = await connection.execute(select(table.c.edited_text, table.c.deleted_at).order_by(table.c.id))
            return [(row.edited_text, row.deleted_at is not None) for row in found]

    async with asyncio.timeout(timeout):
        while not condition(await rows()):  # noqa: ASYNC110 - another process writes them: no event here to wait on
            await asyncio.sleep(0.02)


async def wait_for(condition, timeout: float = 60.0) -> None:  # noqa: ANN001 - a predicate
    """Poll ``condition`` (a count kept by another component) until it holds; fail at the deadline."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - counts kept by log records and fakes, which signal no event
            await asyncio.sleep(0.02)


async def test_a_setting_saved_in_one_process_reaches_the_others_cached_decision(
    two_bots: TwoBots, database: Database
) -> None:
    one, two = two_bots.first, two_bots.second
    user = one.new_user("ada")
    if one.discord is not None:
        one.discord.user_sends_dm(user, "hello")
    else:
        assert one.slack is not None
        one.slack.user_sends_dm(user, "hello")
    await one.new_texts(user, 0)
    await two_bots.idle()
    async with database.session() as session:
        account = (await session.execute(select(Identity))).scalar_one()
    identity = PlatformIdentity(account.platform, account.workspace, account.platform_user_id)
    assert one.container is not None and two.container is not None
    decided = await two.container.people.admit(identity)  # the second process decides and caches Ada
    assert decided.user is not None and decided.user.settings.get("voice") is None

    place = ConversationRef(identity.platform, identity.workspace, "dm")
    saved = await one.container.commands.run("settings", CommandRequest(identity, place, {"voice": "on"}))

    assert saved.text == "I'll send every answer also as speech."
    seen = await two.container.people.admit(identity)  # nobody called People.changed() in either process
    assert seen.user is not None and seen.user.settings.get("voice") == "on"
    shown = await two.container.commands.run("settings", CommandRequest(identity, place, {}))
    assert "Every answer also comes as speech." in shown.text
