"""Reminders end to end on Discord: asked in words, confirmed in words, received at the (fake) time.

The real container and discord.py against the Discord fake; the model fake calls
``set_reminder`` as a model would. The reminder service runs as ``python -m bot run``
runs it, on the container's ManualClock: moving the clock past the time wakes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.container import Container
from bot.platforms import build_platform_services
from core.clock import ManualClock
from core.reminders.times import spoken, to_local
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MARKER = "▌"
LISBON = ZoneInfo("Europe/Lisbon")


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


async def test_asked_in_words_confirmed_in_words_and_received_at_the_time(
    tmp_path: Path, database_url: str, fake_discord: FakeDiscord, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", database_url=database_url, openai_api_key="sk-test",
        openai_base_url=openai_fake.base_url, openai_max_retries=0, memory_extraction=False,
        allowed_accounts=["discord:*"], default_timezone="Europe/Lisbon", daily_summary_time="off",
        discord_token=fake_discord.bot_token, discord_api_url=fake_discord.api_url,
        discord_gateway_url=fake_discord.gateway_url,
    )  # fmt: skip
    container = await Container.create(settings, clock=clock)
    platforms = build_platform_services(container)
    scheduled = container.scheduled_services()
    assert [s.name for s in scheduled] == ["daily log", "reminders"]
    try:
        for service in [*platforms, *scheduled]:
            await asyncio.wait_for(service.start(), 15)
        ada = fake_discord.add_user(name="ada")["id"]

        def bot_messages() -> list[dict[str, Any]]:
            channel = fake_discord.dm_channel_id(ada)
            messages = fake_discord.channel_messages(channel) if channel else []
            return [m for m in messages if m["author"]["id"] == fake_discord.bot_user_id]

        openai_fake.queue(
            ToolCalls([("set_reminder", {"text": "take the cake out", "in": "20 minutes"})]),
            Reply("I'll remind you."),
        )
        fake_discord.user_sends_dm(ada, "remind me in 20 minutes to take the cake out")
        answer = await fake_discord.await_for(
            lambda _f: bot_messages()[-1] if bot_messages() and MARKER not in bot_messages()[-1]["content"] else None,
            15,
        )
        due = clock() + timedelta(minutes=20)
        assert "I'll remind you." in answer["content"]
        assert f"⏰ {spoken(to_local(due, LISBON), LISBON)}: take the cake out" in answer["content"]

        clock.set(due - timedelta(seconds=1))
        assert container.reminders is not None
        assert await container.reminders.runner.run_due() == 0  # a second early: nothing is due yet
        assert len(bot_messages()) == 1
        clock.set(due)
        reminder = await fake_discord.await_for(lambda _f: bot_messages()[1] if len(bot_messages()) > 1 else None, 15)
        assert reminder["content"] == "⏰ Reminder: take the cake out"

        # The reminder is in the conversation's history: the model sees it at the next message.
        fake_discord.user_sends_dm(ada, "done, thanks")
        await fake_discord.await_for(
            lambda _f: len(bot_messages()) >= 3 and MARKER not in bot_messages()[-1]["content"] or None, 15
        )
        last = [b for b in openai_fake.chat_requests() if b.get("stream")][-1]
        said = [m.get("content") for m in last["messages"] if m.get("role") == "assistant"]
        assert any("⏰ Reminder: take the cake out" in str(s) for s in said)
    finally:
        for service in [*scheduled, *reversed(platforms)]:
            await service.stop()
        await container.close()


async def test_a_closed_discord_dm_marks_the_reminder_undeliverable_and_it_is_not_retried(
    tmp_path: Path, database_url: str, fake_discord: FakeDiscord, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", database_url=database_url, openai_api_key="sk-test",
        openai_base_url=openai_fake.base_url, openai_max_retries=0, memory_extraction=False,
        allowed_accounts=["discord:*"], default_timezone="Europe/Lisbon", daily_summary_time="off",
        discord_token=fake_discord.bot_token, discord_api_url=fake_discord.api_url,
        discord_gateway_url=fake_discord.gateway_url,
    )  # fmt: skip
    container = await Container.create(settings, clock=clock)
    platforms = build_platform_services(container)
    assert container.reminders is not None
    runner = container.reminders.runner
    try:
        for service in platforms:
            await asyncio.wait_for(service.start(), 15)
        ada = fake_discord.add_user(name="ada")["id"]
        openai_fake.queue(
            ToolCalls([("set_reminder", {"text": "stretch", "in": "1 hour", "recurrence": "FREQ=DAILY"})]),
            Reply("Daily, then."),
        )
        fake_discord.user_sends_dm(ada, "every day from in an hour, remind me to stretch")
        await fake_discord.await_for(
            lambda _f: any("Daily, then." in m["content"] for m in fake_discord.channel_messages(
                fake_discord.dm_channel_id(ada) or "0")) or None, 15,
        )  # fmt: skip
        fake_discord.close_dms(ada)
        sends_before = len([e for e in fake_discord.log if e.route == "messages.create"])

        clock.advance(hours=1)
        await runner.run_due()
        clock.advance(days=3)
        await runner.run_due()

        (reminder,) = await container.reminders.store.of_user(1, states=("undeliverable",))
        assert reminder.text == "stretch"
        tries = [e for e in fake_discord.log if e.route == "messages.create"]
        assert len(tries) - sends_before == 1  # refused once (403, 50007), then never tried again
        assert await runner.next_wake() is None
    finally:
        for service in reversed(platforms):
            await service.stop()
        await container.close()
