"""A bot stopped (SIGTERM) between the daily text and its PDF posts only the PDF at the next start.

The scheduler cancels its tick while the PDF is on its way to Discord, before or after Discord took it;
the day is given back, so the next start resumes it at once, with no lease to wait out, and Ada's DM shows
the text once and the PDF once (tests/daily_kill_helpers.py).
"""

from __future__ import annotations

import asyncio
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
from tests.daily_helpers import daily_process
from tests.daily_kill_helpers import PDF_NAME, ada, bot_messages
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
    first = daily_process(
        database,
        model,
        clock,
        messengers=[messenger],  # type: ignore[list-item]
        pdf_dir=tmp_path / "a",
        worker="a",
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
        database,
        model,
        clock,
        messengers=[messenger],  # type: ignore[list-item]
        pdf_dir=tmp_path / "b",
        worker="b",
    )
    assert (await second.runner.run_due())[(user, DAY)] is DayOutcome.DONE
    messages = bot_messages(fake_discord, discord_id)
    assert [m["content"].startswith("**Your day") for m in messages] == [True, False]
    assert [a["filename"] for a in messages[1]["attachments"]] == [PDF_NAME]
    assert len(openai_fake.chat_requests()) == 1
