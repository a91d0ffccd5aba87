"""Link previews on Discord answers (issue 18): suppressed unless the user turns them on.

Real discord.py against the loopback Discord fake, which records each request's message
flags: SUPPRESS_EMBEDS (1 << 2) must go with every create and edit of an answer, so that
Discord's crawler never fetches a link planted in it; after ``/settings previews on`` it
must not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from adapters.discord import DiscordService
from adapters.strangers import StrangerGate
from core.chat import ChatService
from core.commands import CommandSet
from core.db.database import Database
from core.identity.profile import Profiles
from core.link_previews import LinkPreviews
from core.llm import OpenAIModel
from tests.conftest import make_chat_service
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes.discord_server import FakeDiscord, LogEntry
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.settings_helpers import every_setting

SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
MARKER = "▌"
PLANTED = "Here is the page: https://evil.example/collect?secret=4711"


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


@dataclass
class Bot:
    service: DiscordService
    chat: ChatService
    fake: FakeDiscord

    async def answer(self, channel_id: str) -> str:
        """The bot's final answer in the channel (no streaming marker left)."""

        def finished(fake: FakeDiscord) -> str | None:
            texts = [m["content"] for m in self.posts(channel_id)]
            return texts[-1] if texts and MARKER not in texts[-1] else None

        return await self.fake.await_for(finished, 10)

    def posts(self, channel_id: str) -> list[dict]:
        """The bot's messages in the channel, without the private (ephemeral) command replies."""
        return [
            m
            for m in self.fake.channel_messages(channel_id)
            if m["author"]["id"] == self.fake.bot_user_id and not m["flags"] & EPHEMERAL
        ]

    def answer_calls(self, channel_id: str) -> list[LogEntry]:
        """The bot's creates and edits of messages in the channel, in order."""
        return [
            e
            for e in self.fake.log
            if e.channel_id == channel_id and e.route in ("messages.create", "messages.edit") and e.status < 300
        ]


@pytest.fixture
async def bot(fake_discord: FakeDiscord, database: Database, model: OpenAIModel) -> AsyncIterator[Bot]:
    chat = make_chat_service(database, model, allowed=("discord:*",))
    commands = CommandSet(chat, model, every_setting(chat, Profiles(database)))
    previews = LinkPreviews(people=chat.people)
    service = DiscordService(
        token=fake_discord.bot_token,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        commands=commands,
        api_url=fake_discord.api_url,
        gateway_url=fake_discord.gateway_url,
        guild_ready_timeout=0.1,
        previews=previews.wanted,
    )
    await asyncio.wait_for(service.start(), 10)
    yield Bot(service, chat, fake_discord)
    await service.stop()


async def test_an_answer_with_a_link_is_created_and_edited_with_previews_suppressed(
    bot: Bot, openai_fake: FakeOpenAI
) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    openai_fake.queue(Reply.at_rate(PLANTED + " " + " ".join(f"w{n}" for n in range(40)), words_per_second=80))

    bot.fake.user_sends_dm(alice, "find me that page")
    channel = bot.fake.dm_channel_id(alice)
    assert channel is not None
    answer = await bot.answer(channel)

    assert answer.startswith(PLANTED)
    calls = bot.answer_calls(channel)
    assert [c.route for c in calls][:2] == ["messages.create", "messages.edit"], "streamed: a post, then edits"
    assert all(c.flags is not None and c.flags & SUPPRESS_EMBEDS for c in calls), [(c.route, c.flags) for c in calls]
    (message,) = bot.posts(channel)
    assert message["flags"] & SUPPRESS_EMBEDS


async def test_after_settings_previews_on_answers_carry_no_suppression(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]

    bot.fake.invoke_command(alice, "settings", {"previews": "on"})
    record = await bot.fake.await_for(
        lambda f: next((r for r in f.interaction_responses if r.kind == "callback"), None), 10
    )
    assert "now show previews" in str(record.payload)

    openai_fake.queue(Reply.at_rate(PLANTED + " " + " ".join(f"w{n}" for n in range(40)), words_per_second=80))
    bot.fake.user_sends_dm(alice, "find me that page")
    channel = bot.fake.dm_channel_id(alice)
    assert channel is not None
    assert (await bot.answer(channel)).startswith(PLANTED)

    calls = bot.answer_calls(channel)
    assert calls and all(not (c.flags or 0) & SUPPRESS_EMBEDS for c in calls), [(c.route, c.flags) for c in calls]
    (message,) = bot.posts(channel)
    assert not message["flags"] & SUPPRESS_EMBEDS

    bot.fake.invoke_command(alice, "settings", {"previews": "off"})
    await bot.fake.await_for(lambda f: any("no previews again" in str(r.payload) for r in f.interaction_responses), 10)
    openai_fake.queue(Reply("Again: " + PLANTED))
    bot.fake.user_sends_dm(alice, "and again?")
    await bot.fake.await_for(lambda f: any(m["content"].startswith("Again:") for m in f.channel_messages(channel)), 10)
    again = bot.posts(channel)[-1]
    assert again["content"].startswith("Again:")
    assert again["flags"] & SUPPRESS_EMBEDS
