"""The daily log exactly once although the bot is killed (SIGKILL) at any step boundary.

A child process (tests/integration/daily/kill_child.py) closes Ada's day with the
real Discord messenger (discord.py against the Discord fake), the model fake and,
where the day goes to Drive, the Google fake, and stops dead right after one step
took effect and before the database recorded it: the model answered, the PDF was
made, Drive stored the file, Discord accepted the text, Discord accepted the PDF.
The test kills it with SIGKILL and starts a new process in-process on the same
database, as a restarted bot: its first look finds the dead process's claim still
fresh; its next scheduler tick, a minute later (the injected clock), takes the day
over. Ada then has exactly one post of her day, complete: the text with the Drive
link, or the text and its PDF.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
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
from tests.daily_helpers import ASSISTANT, EPOCH, People, connect_google, daily_process
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


async def _ada(database: Database, fake: FakeDiscord) -> tuple[int, str]:
    """Ada, who wrote in her Discord DM that day: her user id and her Discord id."""
    people = People(database)
    ada = await people.user("Ada", timezone="Europe/Paris", platforms=())
    discord_id = str(fake.add_user(name="ada")["id"])
    async with database.engine.begin() as conn:
        await conn.execute(insert(Identity), {"user_id": ada, "platform": "discord", "workspace": "",
                                              "platform_user_id": discord_id, "display_name": "Ada",
                                              "created_at": EPOCH})  # fmt: skip
    await people.exchange(ada, paris(10, 0), "The regatta is on Saturday", "Noted.")
    await people.exchange(ada, paris(15, 0), "Remind me to book the crane", "Noted: book the crane.")
    return ada, discord_id


def _bot_messages(fake: FakeDiscord, discord_id: str) -> list[dict[str, Any]]:
    channel = fake.dm_channel_id(discord_id)
    messages = fake.channel_messages(channel) if channel else []
    return [m for m in messages if m["author"]["id"] == fake.bot_user_id]


async def _killed_at(boundary: str, *, database: Database, openai_fake: FakeOpenAI, fake: FakeDiscord,
                     google: FakeGoogle | None, clock: ManualClock, pdf_dir: Path) -> None:  # fmt: skip
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


# (boundary, the day goes to Drive, Discord has forgotten the post's nonce by the restart)
CASES = [
    pytest.param("summary", True, False, id="after-the-summary"),
    pytest.param("render", True, False, id="after-the-render"),
    pytest.param("upload", True, False, id="after-the-upload"),
    pytest.param("text", True, False, id="after-the-text-post-with-drive-link"),
    pytest.param("text", False, False, id="after-the-text-post-before-the-pdf"),
    pytest.param("file", False, False, id="after-the-file-post"),
    # A restart after Discord forgot the nonce (it keeps one a few minutes): found by reading back.
    pytest.param("text", False, True, id="after-the-text-post-nonce-forgotten"),
    pytest.param("file", False, True, id="after-the-file-post-nonce-forgotten"),
]


@pytest.mark.parametrize(("boundary", "with_drive", "nonce_forgotten"), CASES)
async def test_a_day_killed_at_a_step_boundary_arrives_once_and_complete_a_minute_after_the_restart(
    boundary: str,
    with_drive: bool,
    nonce_forgotten: bool,
    database: Database,
    model: OpenAIModel,
    openai_fake: FakeOpenAI,
    google_fake: FakeGoogle,
    fake_discord: FakeDiscord,
    bot_client: discord.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada, discord_id = await _ada(database, fake_discord)
    kit = GoogleKit(database, google_fake) if with_drive else None
    if kit is not None:
        await connect_google(database, google_fake, kit, ada, "ada@example.org")
    openai_fake.default = lambda _request: Reply(SUMMARY)
    clock = ManualClock(paris(22, 31))

    await _killed_at(boundary, database=database, openai_fake=openai_fake, fake=fake_discord,
                     google=google_fake if with_drive else None, clock=clock, pdf_dir=tmp_path / "doomed")  # fmt: skip
    held = await DailyLogRepository(database, worker="probe").get(ada, DAY)
    assert held is not None and held.claimed_by == "doomed" and held.state != "posted"

    if nonce_forgotten:
        monkeypatch.setattr(discord_server, "NONCE_MEMORY", 0.0)
    messenger = DiscordMessenger(bot_client, DiscordBudget())
    restarted = daily_process(
        database, model, clock, messengers=[messenger], pdf_dir=tmp_path / "new", kit=kit  # type: ignore[list-item]
    )
    # Its first look, at once: the dead process's claim is still fresh.
    assert (await restarted.runner.run_due()).get((ada, DAY)) in (None, DayOutcome.BUSY)
    # The next scheduler tick, a minute later: the claim, renewed by nobody, has run out.
    clock.advance(seconds=60)
    assert (await restarted.runner.run_due())[(ada, DAY)] is DayOutcome.DONE
    assert (await restarted.repo.get(ada, DAY)).state == "posted"  # type: ignore[union-attr]

    texts = [m for m in _bot_messages(fake_discord, discord_id) if m["content"].startswith("**Your day")]
    assert len(texts) == 1, [m["content"][:40] for m in _bot_messages(fake_discord, discord_id)]
    assert "Buy rope before Friday" in texts[0]["content"]
    pdf_messages = [m for m in _bot_messages(fake_discord, discord_id) if m["attachments"]]
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
    assert len(_bot_messages(fake_discord, discord_id)) == (1 if with_drive else 2)


@pytest.mark.parametrize("accepted", [False, True], ids=["file-not-yet-sent", "file-accepted-not-recorded"])
async def test_a_bot_stopped_between_the_text_and_the_pdf_posts_only_the_pdf_at_the_next_start(
    accepted: bool,
    database: Database,
    model: OpenAIModel,
    openai_fake: FakeOpenAI,
    fake_discord: FakeDiscord,
    bot_client: discord.Client,
    tmp_path: Path,
) -> None:
    ada, discord_id = await _ada(database, fake_discord)
    openai_fake.default = lambda _request: Reply(SUMMARY)
    clock = ManualClock(paris(22, 31))
    messenger = DiscordMessenger(bot_client, DiscordBudget())
    first = daily_process(
        database, model, clock, messengers=[messenger], pdf_dir=tmp_path / "a", worker="a"  # type: ignore[list-item]
    )
    send_part = messenger.send_part
    at_the_file = asyncio.Event()

    async def stalls_at_the_file(account: Any, part: Any, **kwargs: Any) -> Any:
        if part.file is not None:
            if accepted:  # Discord took the upload; the bot stops before it records that
                await send_part(account, part, **kwargs)
            at_the_file.set()
            await asyncio.Event().wait()
        return await send_part(account, part, **kwargs)

    messenger.send_part = stalls_at_the_file  # type: ignore[method-assign]
    # The bot is stopped (SIGTERM: the scheduler cancels its tick) while the PDF is on its way.
    running = asyncio.create_task(first.runner.run_due())
    await at_the_file.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    messenger.send_part = send_part  # type: ignore[method-assign]

    # The next start resumes the day at once (it was given back, no lease to wait out), with the PDF only.
    second = daily_process(
        database, model, clock, messengers=[messenger], pdf_dir=tmp_path / "b", worker="b"  # type: ignore[list-item]
    )
    assert (await second.runner.run_due())[(ada, DAY)] is DayOutcome.DONE
    messages = _bot_messages(fake_discord, discord_id)
    assert [m["content"].startswith("**Your day") for m in messages] == [True, False]
    assert [a["filename"] for a in messages[1]["attachments"]] == [PDF_NAME]
    assert len(openai_fake.chat_requests()) == 1
