"""A bot stopped (SIGTERM) between the daily text and its PDF posts only the PDF at the next start.

The scheduler cancels its tick while the PDF is on its way to Discord, before or after Discord took it;
the day is given back, so the next start resumes it at once, with no lease to wait out, and Ada's DM shows
the text once and the PDF once (tests/daily_kill_helpers.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.limits import DiscordBudget
from adapters.discord.messenger import DiscordMessenger
from core.clock import ManualClock
from core.daily.job import DayOutcome
from core.db.database import Database
from core.llm import OpenAIModel
from tests.daily_helpers import Process, daily_process
from tests.daily_kill_helpers import PDF_NAME, ada, bot_messages, stopped_at_a_part
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.integration.daily.test_daily_log import DAY, SUMMARY, paris


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
    user, discord_id = await ada(database, fake_discord)
    openai_fake.default = lambda _request: Reply(SUMMARY)
    clock = ManualClock(paris(22, 31))
    messenger = DiscordMessenger(bot_client, DiscordBudget())

    def start(worker: str) -> Process:
        """A bot process on the same database and Discord; its PDFs rendered in a folder of its own."""
        messengers: list[Any] = [messenger]  # the real Discord messenger where the job expects a recording one
        return daily_process(database, model, clock, messengers=messengers, pdf_dir=tmp_path / worker, worker=worker)

    # The bot is stopped (SIGTERM: the scheduler cancels its tick) while the PDF is on its way; if ``accepted``,
    # Discord took the upload and the bot stops before it records that.
    await stopped_at_a_part(start("a"), messenger, stops_at=lambda part: part.file is not None, after_sending=accepted)

    # The next start resumes the day at once (it was given back, no lease to wait out), with the PDF only.
    second = start("b")
    assert (await second.runner.run_due())[(user, DAY)] is DayOutcome.DONE
    messages = bot_messages(fake_discord, discord_id)
    assert [m["content"].startswith("**Your day") for m in messages] == [True, False]
    assert [a["filename"] for a in messages[1]["attachments"]] == [PDF_NAME]
    assert len(openai_fake.chat_requests()) == 1
