"""`speak` end to end: the assistant starts a turn itself, on Discord and Slack, through the real clients.

The real container with Discord (discord.py) and Slack (slack-bolt) both connected
to their loopback fakes, and the model fake. Ada writes on Discord; her Slack
account belongs to the same person. What the assistant says by itself lands in her
DM once per key, falls back to Slack when her Discord DMs are closed, and is in the
conversation's history, so the model sees it at her next message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.config import Settings
from bot.container import Container
from bot.platforms import build_platform_services
from bot.runtime import Service
from core.clock import ManualClock
from core.db.models import Identity, Message
from core.messenger import Delivery
from core.outbound import OutboundPart, PartMessenger
from core.speak import Speak, Unreachable
from core.types import PlatformIdentity
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MARKER = "▌"
ADA_ON_SLACK = "U0ADA"
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def _responder(request: dict[str, Any]) -> Reply:
    messages = request.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "system" and "on your own" in str(last.get("content")):
        return Reply("Good luck with the Aurora at the regatta today!")
    user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return Reply("Noted: " + re.sub(r"^\[[^\]]*\]\s*", "", str(user.get("content", ""))))


@dataclass
class Running:
    container: Container
    speak: Speak
    discord: FakeDiscord
    slack: FakeSlack
    openai: FakeOpenAI

    def discord_texts(self, user: str) -> list[str]:
        channel = self.discord.dm_channel_id(user)
        messages = self.discord.channel_messages(channel) if channel else []
        return [m["content"] for m in messages if m["author"]["id"] == self.discord.bot_user_id]

    async def chat_on_discord(self, user: str, text: str) -> str:
        before = len(self.discord_texts(user))
        self.discord.user_sends_dm(user, text)

        def answered(_fake: FakeDiscord) -> str | None:
            new = self.discord_texts(user)[before:]
            return new[-1] if new and MARKER not in new[-1] else None

        return await self.discord.await_for(answered, 15)

    async def stored_assistant_texts(self) -> list[str]:
        async with self.container.db.engine.connect() as conn:
            rows = await conn.execute(select(Message.content).where(Message.role == "assistant").order_by(Message.id))
            return list(rows.scalars())

    def last_answer_request(self) -> list[dict[str, Any]]:
        return [b for b in self.openai.chat_requests() if b.get("stream")][-1]["messages"]


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


@pytest.fixture
async def running(
    tmp_path: Path, database_url: str, fake_discord: FakeDiscord, openai_fake: FakeOpenAI
) -> AsyncIterator[Running]:
    openai_fake.default = _responder
    with FakeSlack() as slack:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=tmp_path / "data", database_url=database_url, openai_api_key="sk-test",
            openai_base_url=openai_fake.base_url, openai_max_retries=0, memory_extraction=False,
            allowed_accounts=["discord:*", "slack:*"], daily_summary_time="off",
            discord_token=fake_discord.bot_token, discord_api_url=fake_discord.api_url,
            discord_gateway_url=fake_discord.gateway_url,
            slack_bot_token=slack.bot_token, slack_app_token=slack.app_token, slack_api_url=slack.api_url,
        )  # fmt: skip
        container = await Container.create(settings, clock=ManualClock(datetime.now(UTC).replace(microsecond=0)))
        platforms: list[Service] = build_platform_services(container)
        try:
            for service in platforms:
                await asyncio.wait_for(service.start(), 15)
            assert container.speak is not None
            yield Running(container, container.speak, fake_discord, slack, openai_fake)
        finally:
            for service in reversed(platforms):
                await service.stop()
            await container.close()


async def ada_on_both(running: Running) -> tuple[str, int]:
    """Ada writes on Discord (that makes her a person); her Slack account is hers too, used long ago."""
    ada = running.discord.add_user(name="ada")["id"]
    await running.chat_on_discord(ada, "The regatta is on Saturday; my boat is called Aurora")
    async with running.container.db.engine.begin() as conn:
        user_id = await conn.scalar(select(Identity.user_id).where(Identity.platform_user_id == ada))
        await conn.execute(
            insert(Identity),
            {"user_id": user_id, "platform": "slack", "workspace": running.slack.team_id,
             "platform_user_id": ADA_ON_SLACK, "display_name": "Ada", "created_at": LONG_AGO,
             "last_used_at": LONG_AGO},
        )  # fmt: skip
    return ada, int(user_id)


async def test_a_text_lands_in_the_last_used_dm_once_and_the_model_knows_it_said_it(running: Running) -> None:
    ada, user_id = await ada_on_both(running)

    spoken = await running.speak(user_id, key="check-in:1", text="How did the crane booking go?")
    again = await running.speak(user_id, key="check-in:1", text="How did the crane booking go?")

    assert running.discord_texts(ada)[-1] == "How did the crane booking go?"
    assert running.discord_texts(ada).count("How did the crane booking go?") == 1
    assert running.slack.texts(running.slack.dm_channel(ADA_ON_SLACK)) == []
    assert (spoken.delivery.platform, spoken.refused, again.again) == ("discord", (), True)
    assert again.message_id == spoken.message_id
    assert (await running.stored_assistant_texts()).count("How did the crane booking go?") == 1

    await running.chat_on_discord(ada, "It went fine")
    said = [m["content"] for m in running.last_answer_request() if m["role"] == "assistant"]
    assert said[-1] == "How did the crane booking go?"


async def test_a_closed_discord_dm_falls_back_to_slack_and_says_so(running: Running) -> None:
    ada, user_id = await ada_on_both(running)
    running.discord.close_dms(ada)

    spoken = await running.speak(user_id, key="check-in:2", text="Time to book the crane.", prefer_platform="discord")

    slack_texts = running.slack.texts(running.slack.dm_channel(ADA_ON_SLACK))
    assert len(slack_texts) == 1
    assert slack_texts[0].startswith("Time to book the crane.\n(I could not reach you on discord: ")
    assert [r.platform for r in spoken.refused] == ["discord"]
    assert spoken.delivery.platform == "slack"
    assert running.discord_texts(ada) == ["Noted: The regatta is on Saturday; my boat is called Aurora"]
    stored = await running.stored_assistant_texts()
    assert stored[-1] == slack_texts[0].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")

    # Asked again later under the same key: it was said, nothing is posted again.
    assert (await running.speak(user_id, key="check-in:2", text="Time to book the crane.")).again
    assert len(running.slack.texts(running.slack.dm_channel(ADA_ON_SLACK))) == 1


async def test_a_person_whose_only_dm_is_closed_is_reported_unreachable(running: Running) -> None:
    bob = running.discord.add_user(name="bob")["id"]
    await running.chat_on_discord(bob, "hello")
    running.discord.close_dms(bob)
    async with running.container.db.engine.connect() as conn:
        user_id = int(await conn.scalar(select(Identity.user_id).where(Identity.platform_user_id == bob)))

    with pytest.raises(Unreachable) as refused:
        await running.speak(user_id, key="check-in:3", text="Are you there?")

    assert [r.platform for r in refused.value.refused] == ["discord"]
    assert not refused.value.retryable
    assert "Are you there?" not in await running.stored_assistant_texts()


@pytest.mark.parametrize("platform", ["discord", "slack"])
async def test_a_post_the_platform_accepted_before_a_crash_is_not_posted_again(running: Running, platform: str) -> None:
    # Discord dedupes the retry by the key's nonce; Slack has no such key: the retry reads its metadata back.
    ada, user_id = await ada_on_both(running)
    messenger = running.container.outbox.messenger(platform)
    assert isinstance(messenger, PartMessenger)
    send_part = messenger.send_part
    accepted = asyncio.Event()

    async def stopped_after_the_platform_took_it(
        account: PlatformIdentity, part: OutboundPart, **kwargs: Any
    ) -> Delivery:
        delivery = await send_part(account, part, **kwargs)
        accepted.set()  # the platform has the message; the process stops before it records that
        await asyncio.Event().wait()
        return delivery

    messenger.send_part = stopped_after_the_platform_took_it  # type: ignore[method-assign]
    said = {"key": "daily:7", "text": "Your day, in short.", "prefer_platform": platform}
    dying = asyncio.create_task(running.speak(user_id, **said))
    await accepted.wait()
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    messenger.send_part = send_part  # type: ignore[method-assign]

    spoken = await running.speak(user_id, **said)

    if platform == "discord":
        texts = running.discord_texts(ada)
    else:
        texts = running.slack.texts(running.slack.dm_channel(ADA_ON_SLACK))
    assert texts.count("Your day, in short.") == 1
    assert not spoken.again  # recorded only now, by the retry that found the post
    assert (await running.stored_assistant_texts()).count("Your day, in short.") == 1


async def test_a_prompt_is_answered_by_the_model_with_the_conversation_in_view(running: Running) -> None:
    ada, user_id = await ada_on_both(running)

    spoken = await running.speak(user_id, key="nudge:1", prompt="It is the morning of the regatta: wish them luck.")

    assert spoken.text == "Good luck with the Aurora at the regatta today!"
    assert running.discord_texts(ada)[-1] == spoken.text
    request = running.last_answer_request()
    contents = [str(m["content"]) for m in request]
    assert any("my boat is called Aurora" in c for c in contents if c)
    assert request[-1]["role"] == "system" and "wish them luck" in request[-1]["content"]
    assert (await running.stored_assistant_texts())[-1] == spoken.text

    await running.chat_on_discord(ada, "Thanks!")
    said = [m["content"] for m in running.last_answer_request() if m["role"] == "assistant"]
    assert said[-1] == "Good luck with the Aurora at the regatta today!"
