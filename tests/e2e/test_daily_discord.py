"""The daily log end to end on Discord: the real container, discord.py against the Discord fake, the model fake.

A user chats in their DM; time (the container's ManualClock) moves past their end
of day; the daily-log service starts as ``python -m bot run`` starts it and its
first look (the catch-up at start) posts the summary in the DM with the day's PDF
attached (Google is not configured here), and the model sees that post at the
user's next message. Messages carry Discord's real
timestamps, so the user's zone is picked to put their local time near noon and
the test never straddles a local midnight.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from bot.config import Settings
from bot.container import Container
from bot.platforms import build_platform_services
from core.clock import ManualClock
from core.daily.prefs import closes_at
from core.events import DayPosted
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MARKER = "▌"
SUMMARY = "**Discussed**\n- The regatta on Saturday\n\n**To do**\n- Book the crane"


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


def zone_near_noon(now: datetime) -> str:
    """An Etc/GMT zone whose local time is now between 10:00 and 14:00."""
    offset = max(-12, min(12, 12 - now.hour))  # Etc/GMT-N is N hours ahead of UTC
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}" if offset else "UTC"


def _responder(request: dict[str, Any]) -> Reply:
    messages = request.get("messages") or []
    if messages and str(messages[0].get("content", "")).startswith("You write the end-of-day log"):
        return Reply(SUMMARY)
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return Reply("Noted: " + re.sub(r"^\[[^\]]*\]\s*", "", str(last.get("content", ""))))


async def test_the_day_is_posted_in_the_discord_dm_with_its_pdf(
    tmp_path: Path, database_url: str, fake_discord: FakeDiscord, openai_fake: FakeOpenAI
) -> None:
    real_now = datetime.now(UTC)
    tz = ZoneInfo(zone_near_noon(real_now))
    clock = ManualClock(real_now)
    openai_fake.default = _responder
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        openai_api_key="sk-test",
        openai_base_url=openai_fake.base_url,
        openai_max_retries=0,
        memory_extraction=False,
        allowed_accounts=["discord:*"],
        default_timezone=tz.key,
        discord_token=fake_discord.bot_token,
        discord_api_url=fake_discord.api_url,
        discord_gateway_url=fake_discord.gateway_url,
    )
    container = await Container.create(settings, clock=clock)
    days_posted: list[DayPosted] = []
    container.events.subscribe(DayPosted, days_posted.append)
    platforms = build_platform_services(container)
    scheduled = container.scheduled_services()
    assert [s.name for s in scheduled] == ["daily log", "reminders"]
    try:
        for service in platforms:
            await asyncio.wait_for(service.start(), 15)
        ada = fake_discord.add_user(name="ada")["id"]

        def bot_messages() -> list[dict[str, Any]]:
            channel = fake_discord.dm_channel_id(ada)
            messages = fake_discord.channel_messages(channel) if channel else []
            return [m for m in messages if m["author"]["id"] == fake_discord.bot_user_id]

        for n, text in enumerate(["The regatta is on Saturday", "Remind me to book the crane"], start=1):
            fake_discord.user_sends_dm(ada, text)
            await fake_discord.await_for(
                lambda _f, n=n: len(bot_messages()) >= n and MARKER not in bot_messages()[-1]["content"] or None, 15
            )

        day = real_now.astimezone(tz).date()
        clock.set(closes_at(day, time(22, 30), tz) + timedelta(minutes=1))
        for service in scheduled:
            await service.start()  # its first look is the catch-up at start

        def posted(_fake: FakeDiscord) -> dict[str, Any] | None:
            # The text and then its PDF (a second call): both, before the test stops the bot.
            if not any(u.filename.endswith(".pdf") for u in fake_discord.uploads):
                return None
            return next((m for m in bot_messages() if m["content"].startswith("**Your day")), None)

        post = await fake_discord.await_for(posted, 60)

        # The post is in the conversation's history: the model sees it at the next message.
        fake_discord.user_sends_dm(ada, "Thanks, that was the day")
        await fake_discord.await_for(
            lambda _f: bot_messages()[-1]["content"] == "Noted: Thanks, that was the day" or None, 15
        )
        last = [b for b in openai_fake.chat_requests() if b.get("stream")][-1]["messages"]
        said = [str(m.get("content")) for m in last if m.get("role") == "assistant"]
    finally:
        for service in [*scheduled, *reversed(platforms)]:
            await service.stop()
        await container.close()

    assert "Book the crane" in post["content"] and "attached PDF" in post["content"]
    assert said[-1].startswith(post["content"]), said[-1]
    assert said[-1].endswith(f"[attached file: {day.isoformat()} CaptainsLog.pdf]")
    assert len([m for m in bot_messages() if m["content"].startswith("**Your day")]) == 1
    assert [event.day for event in days_posted] == [day]  # and the bus heard of it once
    uploads = [u for u in fake_discord.uploads if u.filename.endswith(".pdf")]
    assert [u.filename for u in uploads] == [f"{day.isoformat()} CaptainsLog.pdf"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(uploads[0].data)).pages)
    assert text.index("Book the crane") < text.index("The regatta is on Saturday") < text.index("book the crane")
