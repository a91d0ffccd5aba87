"""/export, /summary and /settings daily-time | daily-platform through the CommandSet, and tomorrow's context
through real chat turns (the model and Google are the loopback fakes)."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import select

from core.clock import ManualClock
from core.commands import CommandRequest, CommandSet
from core.daily.commands import DailyCommands, daily_commands
from core.daily.context_step import DailyContext
from core.daily.day import DayReader
from core.db.database import Database
from core.db.models import Identity, User
from core.google.calendar import CalendarClient
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from tests.chat_helpers import ALICE, PLACE, say
from tests.conftest import make_chat_service
from tests.daily_helpers import ASSISTANT, People, RecordingMessenger, connect_google, daily_process
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.google_helpers import GoogleKit
from tests.settings_helpers import every_setting

PARIS = ZoneInfo("Europe/Paris")


def paris(hour: int, minute: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS)


async def _alice_id(database: Database) -> int:
    async with database.engine.connect() as conn:
        return int(await conn.scalar(select(Identity.user_id).where(Identity.platform_user_id == ALICE.user_id)))


async def _commands(  # noqa: ANN202
    database: Database,
    model: OpenAIModel,
    clock: ManualClock,
    tmp_path: Path,
    platforms: tuple[str, ...] = ("discord", "slack"),
):
    chat = make_chat_service(database, model, clock=clock)
    commands = CommandSet(chat, model, every_setting(chat, Profiles(database), platforms=platforms))
    messenger = RecordingMessenger("test")
    proc = daily_process(database, model, clock, messengers=[messenger], pdf_dir=tmp_path)
    proc.outbox.directory = chat.people  # the People of the chat know the test account
    handlers = DailyCommands(
        chat=chat, job=proc.job, reader=proc.job.reader, repo=proc.repo, outbox=proc.outbox
    )  # fmt: skip
    for command in daily_commands(handlers):
        commands.add(command)

    async def run(name: str, **options: str) -> str:
        reply = await commands.run(name, CommandRequest(ALICE, PLACE, options))
        return reply.text

    return commands, messenger, proc, run


async def test_settings_daily_time_and_platform(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    _commands_set, _messenger, _proc, run = await _commands(database, model, ManualClock(paris(12)), tmp_path)

    # Slack and the terminal hand over one line in the first option.
    assert await run("settings", timezone="daily-time 21:15") == "I'll close your day at 21:15 your time."
    assert await run("settings", daily_platform="slack") == "Your daily summary will come to your Slack DM."
    assert await run("settings", daily_time="25:00") == "Give the daily time as HH:MM (e.g. 22:30) or off."
    assert await run("settings", daily_platform="telegram") == (
        "The daily platform is one of: discord, slack (or last: where you wrote last)."
    )
    async with database.session() as session:
        settings = (await session.execute(select(User.settings).where(User.id == await _alice_id(database)))).scalar()
    assert settings == {"daily_time": "21:15", "daily_platform": "slack"}
    assert await run("settings", daily_time="off") == "Daily summaries are off. /export still works."
    # Without a daily option the replaced /settings answers, with the daily options named.
    shown = await run("settings")
    assert "time zone" in shown and "/settings daily-time 22:30" in shown
    assert "Daily summaries are off." in shown and "Your daily summary comes to your Slack DM." in shown


async def test_settings_alone_shows_the_saved_daily_time_and_platform(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    _commands_set, _messenger, _proc, run = await _commands(database, model, ManualClock(paris(12)), tmp_path)

    first = (await run("settings")).splitlines()
    assert (
        "I close your day at 22:30 your time (the default). Change it with /settings daily-time 22:30 (or off)."
        in first
    )
    assert "Your daily summary comes to the DM of the platform you last wrote on." in " ".join(first)
    await run("settings", daily_time="21:15")
    await run("settings", daily_platform="discord")
    shown = (await run("settings")).splitlines()
    assert "I close your day at 21:15 your time. Change it with /settings daily-time 22:30 (or off)." in shown
    assert (
        "Your daily summary comes to your Discord DM. Change it with /settings daily-platform discord|slack." in shown
    )


async def test_daily_platform_must_be_configured_and_nothing_is_saved_from_a_refused_line(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = ManualClock(paris(12))
    _commands_set, _messenger, _proc, run = await _commands(database, model, clock, tmp_path, platforms=("discord",))

    assert await run("settings", daily_platform="slack") == (
        "Slack is not configured on this assistant; the daily summary can go to: discord."
    )
    assert await run("settings", daily_platform="telegram") == (
        "The daily platform is one of: discord (or last: where you wrote last)."
    )
    # A time and a refused platform together: neither is saved (the time used to be saved, the caches not refreshed).
    refused = await run("settings", daily_time="21:15", daily_platform="slack")
    assert refused.startswith("Slack is not configured")
    async with database.session() as session:
        settings = (await session.execute(select(User.settings).where(User.id == await _alice_id(database)))).scalar()
    assert not settings
    assert "I close your day at 22:30 your time (the default)." in await run("settings")
    assert await run("settings", daily_time="21:15", daily_platform="discord") == (
        "I'll close your day at 21:15 your time.\nYour daily summary will come to your Discord DM."
    )
    assert "I close your day at 21:15 your time." in await run("settings")


async def test_summary_and_export_of_today_so_far_with_progress_in_the_dm(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = ManualClock(paris(15))
    _commands_set, messenger, proc, run = await _commands(database, model, clock, tmp_path)
    assert "not happened yet" in await run("summary", date="2026-11-25")  # admits Alice, creating her user
    alice = await _alice_id(database)
    async with database.session() as session, session.begin():
        (await session.get(User, alice)).timezone = "Europe/Paris"
    people = People(database)
    conversation = await people.conversation(alice, "test")
    await people.exchange(alice, paris(9), "Morning, plan the regatta", "Plan ready.", conversation_id=conversation)
    await people.exchange(alice, paris(14), "Book the crane", "Booked.", conversation_id=conversation)

    openai_fake.queue(Reply("So far: regatta plan, crane booked."))
    assert await run("summary") == "**Tuesday 24 November 2026**\n\nSo far: regatta plan, crane booked."
    assert [p.text for p in messenger.posts] == ["_writing the summary…_"]
    assert await proc.repo.get(alice, paris(15).date()) is None  # today is not closed by /summary

    messenger.posts.clear()
    openai_fake.queue(Reply("So far: regatta plan, crane booked."))
    reply = await run("export")
    assert reply.startswith(f"Sent 2026-11-24 {ASSISTANT}.pdf (") and reply.endswith("to your DM.")
    assert [p.text for p in messenger.posts[:2]] == ["_writing the summary…_", "_rendering the PDF…_"]
    sent = messenger.posts[2]
    assert [f.filename for f in sent.files] == [f"2026-11-24 {ASSISTANT}.pdf"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(sent.files[0].data)).pages)
    assert text.index("crane booked") < text.index("Morning, plan the regatta") < text.index("Book the crane")

    assert (
        await run("export", date="yesterday") == "No messages on Monday 23 November 2026: there is nothing to export."
    )
    assert await run("export", date="next week") == "I can't read 'next week' as a date. " + (
        "Give a date as YYYY-MM-DD, or today / yesterday."
    )


async def test_export_answers_with_the_file_where_the_caller_shows_it(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The terminal shows the reply and its files to the caller alone: no DM, the reply says what it holds."""
    clock = ManualClock(paris(15))
    commands_set, messenger, _proc, run = await _commands(database, model, clock, tmp_path)
    assert "not happened yet" in await run("summary", date="2026-11-25")  # admits Alice, creating her user
    alice = await _alice_id(database)
    async with database.session() as session, session.begin():
        (await session.get(User, alice)).timezone = "Europe/Paris"
    people = People(database)
    conversation = await people.conversation(alice, "test")
    await people.exchange(alice, paris(9), "Morning, plan the regatta", "Plan ready.", conversation_id=conversation)
    shown: list[str] = []

    async def progress(line: str) -> None:
        shown.append(line)

    openai_fake.queue(Reply("So far: regatta plan."))
    reply = await commands_set.run("export", CommandRequest(ALICE, PLACE, answers_here=True, progress=progress))

    name = f"2026-11-24 {ASSISTANT}.pdf"
    assert reply.text.startswith(f"Here is {name} (") and "DM" not in reply.text
    assert [f.filename for f in reply.files] == [name]
    assert PdfReader(io.BytesIO(reply.files[0].data)).pages[0].extract_text().startswith("Tuesday 24 November 2026")
    assert shown == ["writing the summary…", "rendering the PDF…"]
    assert messenger.posts == [], "nothing went to the DM"


async def test_summary_of_a_closed_day_is_the_stored_one(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    clock = ManualClock(paris(23, 0))
    _commands_set, _messenger, proc, run = await _commands(database, model, clock, tmp_path)
    await run("settings", timezone="Europe/Paris")
    alice = await _alice_id(database)
    await People(database).exchange(alice, paris(9), "Sail at noon", "Fair winds.", platform="test")
    openai_fake.queue(Reply("The stored summary."))
    await proc.runner.run_due()
    requests = len(openai_fake.chat_requests())

    assert await run("summary", date="2026-11-24") == "**Tuesday 24 November 2026**\n\nThe stored summary."
    assert len(openai_fake.chat_requests()) == requests


async def test_first_turn_of_a_day_knows_yesterday_the_calendar_and_the_gap(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    clock = ManualClock(paris(20, 0, day=23))
    chat = make_chat_service(database, model, clock=clock)
    kit = GoogleKit(database, google_fake)
    calendar = CalendarClient(kit.api)
    chat.pipeline.add_before_model(DailyContext(database, DayReader(database), calendar=calendar, later_budget=12))
    await say(chat, "Evening: the mast needs new rope")
    await chat.set_timezone(ALICE, "Europe/Paris")
    alice = await _alice_id(database)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    await calendar.create_event(alice, title="Harbour master meeting", start=paris(10, 0), end=paris(11, 0),
                                timezone="Europe/Paris")  # fmt: skip
    proc = daily_process(database, model, clock, messengers=[RecordingMessenger("test")], pdf_dir=tmp_path)
    summary = "**To do**\n- Buy new rope for the mast, " + "then check every shackle and the halyards " * 5
    openai_fake.queue(Reply(summary))
    clock.set(paris(22, 45, day=23))
    await proc.runner.run_due()
    assert (await proc.repo.get(alice, paris(0, 0, day=23).date())).summary == summary.strip()

    clock.set(paris(8, 15))
    await say(chat, "Good morning")
    notes = "\n".join(m["content"] for m in openai_fake.last_messages() if m["role"] == "system")
    assert "first message today (Tuesday 24 November 2026)" in notes
    assert "previous message was 12 hours and 15 minutes ago" in notes
    assert summary.strip() in notes
    assert "Harbour master meeting" in notes

    clock.set(paris(9, 0))
    await say(chat, "And the weather?")
    notes = "\n".join(m["content"] for m in openai_fake.last_messages() if m["role"] == "system")
    assert "first message today" not in notes and "Harbour master meeting" not in notes
    assert "Beginning of the user's log of Monday 23 November 2026: **To do**" in notes
    assert summary.strip() not in notes  # only its beginning, under the small budget
