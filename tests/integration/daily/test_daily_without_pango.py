"""The daily log on a machine without the Pango libraries: nothing is lost, /export says what to install."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.clock import ManualClock
from core.commands import CommandRequest, CommandSet
from core.daily.commands import PDF_UNAVAILABLE, DailyCommands, daily_commands
from core.daily.job import WAITING_FOR_PDF, DayOutcome
from core.db.database import Database
from core.export.engine import install_hint
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from tests.chat_helpers import ALICE, PLACE
from tests.conftest import make_chat_service
from tests.daily_helpers import People, RecordingMessenger, daily_process
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.pango_helpers import without_pango
from tests.settings_helpers import every_setting

PARIS = ZoneInfo("Europe/Paris")
SUMMARY = "**Discussed**\n- The harbour trip"


def paris(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=PARIS)


async def test_the_day_waits_with_its_summary_and_is_posted_once_the_libraries_are_there(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10), "Plan the harbour trip", "Here is the plan.")
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    proc = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path)
    openai_fake.queue(Reply(SUMMARY))
    day = paris(0).date()

    with without_pango(), caplog.at_level(logging.WARNING):
        assert (await proc.runner.run_due())[(alice, day)] is DayOutcome.WAITING

    record = await proc.repo.get(alice, day)
    assert record is not None and not record.finished
    assert record.state == "summarised" and record.summary == SUMMARY, "the summary is kept, not asked for again"
    assert record.last_error == WAITING_FOR_PDF
    assert slack.posts == []
    lines = [r for r in caplog.records if "not rendered" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None, "one line in the log, no traceback"
    assert install_hint() in lines[0].getMessage()

    # Days without the libraries use up none of the day's attempts: it cannot run out of tries meanwhile.
    for _ in range(3):
        clock.advance(hours=2)
        with without_pango():
            assert (await proc.runner.run_due())[(alice, day)] is DayOutcome.WAITING
    waiting = await proc.repo.get(alice, day)
    assert waiting is not None and waiting.attempts == record.attempts and waiting.claimed_at is None

    clock.advance(minutes=2)
    assert (await proc.runner.run_due())[(alice, day)] is DayOutcome.DONE
    assert len(slack.posts) == 1 and SUMMARY in slack.posts[0].text
    assert [f.content_type for f in slack.posts[0].files] == ["application/pdf"]
    assert len(openai_fake.chat_requests()) == 1


async def test_export_tells_the_terminal_what_to_install_and_a_platform_user_it_is_unavailable(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = ManualClock(paris(15))
    chat = make_chat_service(database, model, clock=clock)
    commands = CommandSet(chat, model, every_setting(chat, Profiles(database)))
    proc = daily_process(database, model, clock, messengers=[RecordingMessenger("test")], pdf_dir=tmp_path)
    proc.outbox.directory = chat.people
    handlers = DailyCommands(
        chat=chat, job=proc.job, reader=proc.job.reader, repo=proc.repo, outbox=proc.outbox
    )  # fmt: skip
    for command in daily_commands(handlers):
        commands.add(command)
    await commands.run("settings", CommandRequest(ALICE, PLACE, {"daily_time": "22:30"}))  # admits Alice
    alice = (await chat.people.admit(ALICE)).user
    assert alice is not None
    await People(database).exchange(alice.id, paris(9), "Sail at noon", "Fair winds.", platform="test")
    openai_fake.queue(Reply(SUMMARY))

    with without_pango():
        on_a_platform = await commands.run("export", CommandRequest(ALICE, PLACE, {}))
        in_the_terminal = await commands.run("export", CommandRequest(ALICE, PLACE, {}, answers_here=True))

    # Whoever runs the bot sits at the terminal; a Discord or Slack user cannot install anything.
    assert on_a_platform.text == PDF_UNAVAILABLE and on_a_platform.files == ()
    assert in_the_terminal.text == install_hint() and in_the_terminal.files == ()
