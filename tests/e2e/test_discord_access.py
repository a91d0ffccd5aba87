"""Who Discord lets in, end to end (real discord.py against the Discord fake, real core, real database).

A server is a workspace of its own (``discord:<guild id>:<user id>``; DMs keep
``global``), access is decided before any work, a stranger hears the refusal
once per window and in private, and the slow ``/image`` keeps refusals private.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from core.types import PlatformIdentity
from tests.e2e.platform_bot import open_fake_discord
from tests.e2e.test_discord import MARKER, Bot, dm, start_bot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

EPHEMERAL = 64


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


async def settle() -> None:
    """Give events that should be ignored the time they would need to be answered."""
    await asyncio.sleep(0.4)


def bot_messages(fake: FakeDiscord, channel_id: str) -> list[dict]:
    return [m for m in fake.channel_messages(channel_id) if m["author"]["id"] == fake.bot_user_id]


async def test_a_strangers_mention_opens_no_thread_downloads_nothing_and_is_refused_once_in_private(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    bot = await start_bot(fake_discord, database, model, allowed=("discord:*:42",))
    try:
        mallory = fake_discord.add_user(name="mallory")["id"]
        general = fake_discord.add_guild("Home")["channels"][0]["id"]
        png = b"\x89PNG\r\n\x1a\n" + b"0" * 64

        first = fake_discord.user_sends_in_channel(
            general,
            mallory,
            "a thread named after my text",
            mention_bot=True,
            attachments=[("a.png", png, "image/png")],
        )
        dm_channel = await fake_discord.await_for(lambda f: f.dm_channel_id(mallory), 15)
        [refusal] = await bot.answer_in(dm_channel)
        for n in range(4):
            fake_discord.user_sends_in_channel(general, mallory, f"again {n}", mention_bot=True)
        await settle()

        assert "private" in refusal
        assert fake_discord.channel(first["id"]) is None, "no thread was opened"
        assert bot_messages(fake_discord, general) == [], "nothing said in the server"
        assert fake_discord.downloads == []
        assert [m["content"] for m in bot_messages(fake_discord, dm_channel)] == [refusal], "once, then silence"

        # In DMs the account is discord:global:<id>, decided (and refused) on its own, also just once.
        for n in range(4):
            fake_discord.user_sends_dm(mallory, f"and here {n}")
        assert await bot.answer_in(dm_channel, count=2) == [refusal, refusal]
        await settle()
        assert len(bot_messages(fake_discord, dm_channel)) == 2
        assert openai_fake.chat_requests() == []

        clock = bot.chat.clock
        assert isinstance(clock, ManualClock)
        clock.advance(minutes=11)
        fake_discord.user_sends_dm(mallory, "it has been a while")
        assert await bot.answer_in(dm_channel, count=3) == [refusal] * 3
    finally:
        await bot.service.stop()


async def test_a_pattern_can_name_one_server_and_a_user_pattern_works_everywhere(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    home = fake_discord.add_guild("Home")
    away = fake_discord.add_guild("Away")
    alice = fake_discord.add_user(name="alice")["id"]
    bob = fake_discord.add_user(name="bob")["id"]
    openai_fake.default = lambda _request: Reply("Hello.")
    bot = await start_bot(fake_discord, database, model, allowed=(f"discord:{home['id']}:*", f"discord:*:{bob}"))
    try:
        at_home = fake_discord.user_sends_in_channel(home["channels"][0]["id"], alice, "hi", mention_bot=True)
        assert await bot.answer_in(at_home["id"]) == ["Hello."]

        away_general = away["channels"][0]["id"]
        fake_discord.user_sends_in_channel(away_general, alice, "hi there", mention_bot=True)
        dm_alice = await fake_discord.await_for(lambda f: f.dm_channel_id(alice), 15)
        [refusal] = await bot.answer_in(dm_alice)
        assert "private" in refusal
        fake_discord.user_sends_dm(alice, "and in a DM?")  # DMs are discord:global:<id>, not the Home server
        assert await bot.answer_in(dm_alice, count=2) == [refusal, refusal]

        assert await bot.answer_in(dm(fake_discord, bob, "hi")) == ["Hello."]
        at_away = fake_discord.user_sends_in_channel(away_general, bob, "hi", mention_bot=True)
        assert await bot.answer_in(at_away["id"]) == ["Hello."]
    finally:
        await bot.service.stop()


async def test_a_strangers_image_command_is_refused_privately(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    bot = await start_bot(fake_discord, database, model, allowed=("discord:*:42",))
    try:
        mallory = fake_discord.add_user(name="mallory")["id"]
        general = fake_discord.add_guild("Home")["channels"][0]["id"]

        interaction = fake_discord.invoke_command(mallory, "image", {"prompt": "anything"}, channel_id=general)
        followup = await fake_discord.await_for(
            lambda f: next((r for r in f.interaction_responses if r.kind == "followup"), None), 15
        )
        [callback] = [r for r in fake_discord.interaction_responses if r.kind == "callback"]
        assert callback.payload["type"] == 5 and callback.payload["data"]["flags"] & EPHEMERAL
        assert "private" in followup.payload["content"]
        shown = fake_discord.channel_messages(general)
        assert shown and all(m["flags"] & EPHEMERAL for m in shown), "only the caller sees it"
        assert fake_discord.interaction(interaction["id"]) is not None
        assert [r for r in openai_fake.requests if r.path == "/v1/images/generations"] == []
    finally:
        await bot.service.stop()


async def test_an_allowed_image_command_in_a_server_is_shown_to_the_channel(bot: Bot) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    general = bot.fake.add_guild("Home")["channels"][0]["id"]

    bot.fake.invoke_command(alice, "image", {"prompt": "a lighthouse"}, channel_id=general)
    await bot.fake.await_for(
        lambda f: next((r for r in f.interaction_responses if r.kind == "followup" and r.files), None), 10
    )

    [shown] = bot.fake.channel_messages(general)
    assert not shown["flags"] & EPHEMERAL and shown["attachments"], "the image is for everyone"
    assert "a lighthouse" in shown["content"]


async def test_answers_never_ping_anyone(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    openai_fake.queue(Reply(f"@everyone look, <@{alice}> and @here"))

    channel = dm(bot.fake, alice, "ping them all")
    [text] = await bot.answer_in(channel)

    assert "@everyone" in text and MARKER not in text
    sent = [e for e in bot.fake.log if e.route in ("messages.create", "messages.edit") and e.channel_id == channel]
    assert sent, "the answer was posted"
    for entry in sent:  # nobody named in the text is pinged, not even the user replied to
        assert entry.allowed_mentions is not None and entry.allowed_mentions.get("parse") == []
        assert not entry.allowed_mentions.get("replied_user") and not entry.allowed_mentions.get("users")


async def test_a_stranger_cannot_use_commands(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel
) -> None:
    bot = await start_bot(fake_discord, database, model, allowed=("discord:*:42",))
    try:
        mallory = fake_discord.add_user(name="mallory")["id"]
        fake_discord.invoke_command(mallory, "settings", {"timezone": "Asia/Tokyo"})
        record = await fake_discord.await_for(
            lambda f: next((r for r in f.interaction_responses if r.kind == "callback"), None), 15
        )
        assert "private" in str(record.payload) and "Asia/Tokyo" not in str(record.payload)
        assert record.payload["data"]["flags"] & EPHEMERAL
    finally:
        await bot.service.stop()


@pytest.fixture
async def bot(fake_discord: FakeDiscord, database: Database, model: OpenAIModel) -> Iterator[Bot]:
    running = await start_bot(fake_discord, database, model)
    yield running
    await running.service.stop()


async def test_a_forgotten_stranger_is_decided_afresh_at_once(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel
) -> None:
    bot = await start_bot(fake_discord, database, model, allowed=("discord:*:42",))
    try:
        mallory = fake_discord.add_user(name="mallory")["id"]
        channel = dm(fake_discord, mallory, "let me in")
        [refusal] = await bot.answer_in(channel)

        # What the web server does when a sign-in attempt of this account ends (its link is used up).
        bot.service.gate.forget(PlatformIdentity("discord", "global", mallory))
        fake_discord.user_sends_dm(mallory, "I tried to sign in")
        assert await bot.answer_in(channel, count=2) == [refusal, refusal]
    finally:
        await bot.service.stop()
