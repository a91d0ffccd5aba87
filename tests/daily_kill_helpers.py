"""Shared setup of the daily-log restart tests (tests/integration/daily/test_daily_killed_*.py,
test_daily_stopped_between_posts.py): Ada's day on the Discord fake, a bot process killed at a step
boundary, and what her DM shows afterwards.

A child process (tests/integration/daily/kill_child.py) closes Ada's day with the real Discord
messenger (discord.py against the Discord fake), the model fake and, where the day goes to Drive,
the Google fake, and stops dead right after one step took effect and before the database recorded
it. :func:`killed_at` kills it with SIGKILL; :func:`a_killed_day_arrives_once_and_complete` then
starts a new process in-process on the same database, as a restarted bot, and checks Ada's DM.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import discord.http
import pytest
from sqlalchemy import insert

from adapters.discord.limits import DiscordBudget
from adapters.discord.messenger import DiscordMessenger
from core.clock import ManualClock
from core.daily.claim import DailyLogRepository
from core.daily.job import DayOutcome
from core.db.database import Database
from core.db.models import Identity
from core.llm import OpenAIModel
from core.messenger import Delivery
from core.outbound import OutboundPart
from core.types import PlatformIdentity
from tests.daily_helpers import ASSISTANT, EPOCH, People, Process, connect_google, daily_process
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes import discord_server
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.google_helpers import GoogleKit
from tests.integration.daily.test_daily_log import DAY, ROOT, SUMMARY, paris, pdf_files

PDF_NAME = f"{DAY.isoformat()} {ASSISTANT}.pdf"
DEADLINE = 60.0  # against a hang only


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


@pytest.fixture
async def bot_client(fake_discord: FakeDiscord) -> AsyncIterator[discord.Client]:
    """The restarted bot's discord.py client, logged in to the fake (REST only: posting needs no gateway)."""
    discord.http.Route.BASE = fake_discord.api_url
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake_discord.bot_token)
    yield client
    await client.close()


async def ada(database: Database, fake: FakeDiscord) -> tuple[int, str]:
    """Ada, who wrote in her Discord DM that day: her user id and her Discord id."""
    people = People(database)
    user = await people.user("Ada", timezone="Europe/Paris", platforms=())
    discord_id = str(fake.add_user(name="ada")["id"])
    async with database.engine.begin() as conn:
        await conn.execute(insert(Identity), {"user_id": user, "platform": "discord", "workspace": "",
                                              "platform_user_id": discord_id, "display_name": "Ada",
                                              "created_at": EPOCH})  # fmt: skip
    await people.exchange(user, paris(10, 0), "The regatta is on Saturday", "Noted.")
    await people.exchange(user, paris(15, 0), "Remind me to book the crane", "Noted: book the crane.")
    return user, discord_id


def bot_messages(fake: FakeDiscord, discord_id: str) -> list[dict[str, Any]]:
    """The bot's messages in Ada's DM, oldest first."""
    channel = fake.dm_channel_id(discord_id)
    messages = fake.channel_messages(channel) if channel else []
    return [m for m in messages if m["author"]["id"] == fake.bot_user_id]


async def killed_at(boundary: str, *, database: Database, openai_fake: FakeOpenAI, fake: FakeDiscord,
                    google: FakeGoogle | None, clock: ManualClock, pdf_dir: Path) -> None:  # fmt: skip
    """Run the child bot until it reports reaching ``boundary``, then SIGKILL it."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.daily.kill_child", database.url, openai_fake.base_url,
        google.url if google is not None else "-", fake.api_url, fake.bot_token, clock().isoformat(),
        str(pdf_dir), boundary, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), DEADLINE)
        assert line.decode().strip() == f"AT {boundary}"
    finally:
        child.kill()  # SIGKILL: no code of the child runs after this
        await child.wait()


@dataclass
class Restart:
    """What a restart test works with: the shared database, the fakes and the restarted bot's client."""

    database: Database
    model: OpenAIModel
    openai_fake: FakeOpenAI
    google_fake: FakeGoogle
    fake_discord: FakeDiscord
    bot_client: discord.Client
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture
def restart(
    database: Database,
    model: OpenAIModel,
    openai_fake: FakeOpenAI,
    google_fake: FakeGoogle,
    fake_discord: FakeDiscord,
    bot_client: discord.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Restart:
    return Restart(database, model, openai_fake, google_fake, fake_discord, bot_client, tmp_path, monkeypatch)


async def a_killed_day_arrives_once_and_complete(
    restart: Restart, boundary: str, *, with_drive: bool, nonce_forgotten: bool = False
) -> None:
    """Kill the bot at ``boundary``; the restarted bot's first look finds the dead process's claim still
    fresh, its next scheduler tick a minute later (the injected clock) takes the day over, and Ada then has
    exactly one post of her day, complete: the text with the Drive link, or the text and its PDF.

    ``nonce_forgotten``: Discord has forgotten the post's nonce by the restart (it keeps one a few minutes),
    so the restarted bot finds an accepted post by reading the DM back."""
    database, model = restart.database, restart.model
    openai_fake, google_fake = restart.openai_fake, restart.google_fake
    fake_discord, tmp_path = restart.fake_discord, restart.tmp_path
    user, discord_id = await ada(database, fake_discord)
    kit = GoogleKit(database, google_fake) if with_drive else None
    if kit is not None:
        await connect_google(database, google_fake, kit, user, "ada@example.org")
    openai_fake.default = lambda _request: Reply(SUMMARY)
    clock = ManualClock(paris(22, 31))

    await killed_at(boundary, database=database, openai_fake=openai_fake, fake=fake_discord,
                    google=google_fake if with_drive else None, clock=clock, pdf_dir=tmp_path / "doomed")  # fmt: skip
    held = await DailyLogRepository(database, worker="probe").get(user, DAY)
    assert held is not None and held.claimed_by == "doomed" and held.state != "posted"

    if nonce_forgotten:
        restart.monkeypatch.setattr(discord_server, "NONCE_MEMORY", 0.0)
    messenger = DiscordMessenger(restart.bot_client, DiscordBudget())
    restarted = daily_process(
        database,
        model,
        clock,
        messengers=[messenger],  # type: ignore[list-item]
        pdf_dir=tmp_path / "new",
        kit=kit,
    )
    # Its first look, at once: the dead process's claim is still fresh.
    assert (await restarted.runner.run_due()).get((user, DAY)) in (None, DayOutcome.BUSY)
    # The next scheduler tick, a minute later: the claim, renewed by nobody, has run out.
    clock.advance(seconds=60)
    assert (await restarted.runner.run_due())[(user, DAY)] is DayOutcome.DONE
    assert (await restarted.repo.get(user, DAY)).state == "posted"  # type: ignore[union-attr]

    texts = [m for m in bot_messages(fake_discord, discord_id) if m["content"].startswith("**Your day")]
    assert len(texts) == 1, [m["content"][:40] for m in bot_messages(fake_discord, discord_id)]
    assert "Buy rope before Friday" in texts[0]["content"]
    pdf_messages = [m for m in bot_messages(fake_discord, discord_id) if m["attachments"]]
    if with_drive:
        [drive_file] = pdf_files(google_fake)
        assert drive_file["webViewLink"] in texts[0]["content"]
        assert pdf_messages == []
    else:
        assert "attached PDF" in texts[0]["content"]
        assert [[a["filename"] for a in m["attachments"]] for m in pdf_messages] == [[PDF_NAME]]
        assert int(pdf_messages[0]["id"]) > int(texts[0]["id"])  # the text first, then its PDF
    # Nothing more on later ticks.
    clock.advance(minutes=5)
    await restarted.runner.run_due()
    assert len(bot_messages(fake_discord, discord_id)) == (1 if with_drive else 2)


async def stopped_at_a_part(
    process: Process, messenger: Any, *, stops_at: Callable[[OutboundPart], bool], after_sending: bool
) -> None:
    """Run ``process``'s daily tick and stop it (SIGTERM: the scheduler cancels the tick) while ``messenger``
    posts the first part ``stops_at`` picks: before the platform has it, or, ``after_sending``, once the
    platform took it and before the bot recorded that. ``messenger`` posts normally again afterwards."""
    send_part = messenger.send_part
    reached = asyncio.Event()

    async def stalls(account: PlatformIdentity, part: OutboundPart, **kwargs: Any) -> Delivery:
        if not reached.is_set() and stops_at(part):
            if after_sending:
                await send_part(account, part, **kwargs)
            reached.set()
            await asyncio.Event().wait()
        return await send_part(account, part, **kwargs)

    messenger.send_part = stalls
    try:
        running = asyncio.create_task(process.runner.run_due())
        await reached.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    finally:
        messenger.send_part = send_part
