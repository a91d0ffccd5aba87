"""Follow-ups end to end on Discord: the day's summary lists open items; the next morning the assistant offers
them, each with a one-tap "Remind me", and the reminder it sets arrives that afternoon.

The real container and scheduled services (daily log, reminders) with a ManualClock, discord.py against the
Discord fake, the model fake writing the summary. The zone is picked to put local time near noon (as in
test_daily_discord), so the chat happens on one local day.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.container import Container
from bot.platforms import build_platform_services
from core.clock import ManualClock
from core.daily.prefs import closes_at
from core.export.layout import long_date
from core.reminders.times import spoken
from tests.e2e.platform_bot import open_fake_discord
from tests.e2e.test_daily_discord import zone_near_noon
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SUMMARY = "**Discussed**\n- The regatta on Saturday\n\n**Open items**\n- Book the crane\n- Send the report to Ana"


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


def _responder(request: dict[str, Any]) -> Reply:
    messages = request.get("messages") or []
    if messages and str(messages[0].get("content", "")).startswith("You write the end-of-day log"):
        return Reply(SUMMARY)
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return Reply("Noted: " + re.sub(r"^\[[^\]]*\]\s*", "", str(last.get("content", ""))))


async def test_open_items_are_offered_the_next_morning_and_remind_me_sets_a_reminder(
    tmp_path: Path, database_url: str, fake_discord: FakeDiscord, openai_fake: FakeOpenAI
) -> None:
    real_now = datetime.now(UTC)
    tz = ZoneInfo(zone_near_noon(real_now))
    clock = ManualClock(real_now)
    openai_fake.default = _responder
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", database_url=database_url, openai_api_key="sk-test",
        openai_base_url=openai_fake.base_url, openai_max_retries=0, memory_extraction=False,
        allowed_accounts=["discord:*"], default_timezone=tz.key, discord_token=fake_discord.bot_token,
        discord_api_url=fake_discord.api_url, discord_gateway_url=fake_discord.gateway_url,
    )  # fmt: skip
    container = await Container.create(settings, clock=clock)
    platforms = build_platform_services(container)
    scheduled = container.scheduled_services()
    ada = fake_discord.add_user(name="ada")["id"]

    def bot_messages() -> list[dict[str, Any]]:
        channel = fake_discord.dm_channel_id(ada)
        messages = fake_discord.channel_messages(channel) if channel else []
        return [m for m in messages if m["author"]["id"] == fake_discord.bot_user_id]

    def starting(prefix: str) -> Any:
        def found(_fake: FakeDiscord) -> dict[str, Any] | None:
            return next((m for m in bot_messages() if m["content"].startswith(prefix)), None)

        return found

    try:
        for service in platforms:
            await asyncio.wait_for(service.start(), 15)
        fake_discord.user_sends_dm(ada, "I still have to book the crane and send Ana the report")
        await fake_discord.await_for(starting("Noted:"), 15)
        day = real_now.astimezone(tz).date()
        clock.set(closes_at(day, time(22, 30), tz) + timedelta(minutes=1))
        for service in scheduled:
            await service.start()
        post = await fake_discord.await_for(starting("**Your day"), 60)
        assert "**Open items**\n- Book the crane\n- Send the report to Ana" in post["content"]
        assert not any(m["content"].startswith("☀️") for m in bot_messages())  # not before the morning

        morning = datetime.combine(day + timedelta(days=1), time(9, 0), tz)
        clock.set(morning)
        offer = await fake_discord.await_for(starting("☀️"), 20)
        assert offer["content"] == (
            f"☀️ Open from {long_date(day)}:\n• Book the crane\n• Send the report to Ana\n"
            "Tap “Remind me” on one and I'll remind you this afternoon."
        )
        labels = [c["label"] for row in offer["components"] for c in row["components"]]
        assert labels == ["Remind me: Book the crane", "Remind me: Send the report to Ana"]
        crane = offer["components"][0]["components"][0]["custom_id"]
        fake_discord.press_button(ada, offer["id"], crane)

        def answered(_fake: FakeDiscord) -> str | None:
            message = fake_discord.message(offer["id"])
            return message["content"] if message and not message["components"] else None

        afternoon = morning.replace(hour=14)
        pressed = await fake_discord.await_for(answered, 20)
        assert re.search(
            rf"\n⏰ {re.escape(spoken(afternoon.replace(tzinfo=None), tz))}: Book the crane \(#\d+\)$", pressed
        )
        clock.set(afternoon)
        reminded = await fake_discord.await_for(starting("⏰ Reminder: Book the crane"), 20)
        assert [c["label"] for c in reminded["components"][0]["components"]][:2] == ["Done", "Snooze 20 min"]
        assert len([m for m in bot_messages() if m["content"].startswith("☀️")]) == 1
    finally:
        for service in [*scheduled, *reversed(platforms)]:
            await service.stop()
        await container.close()
