"""The model's reminder tools and /reminders, as the person sees their answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.clock import ManualClock
from core.commands import CommandRequest
from core.db.database import Database
from core.db.repositories import ConversationRepository, UserRecord
from core.llm import ToolCall
from core.reminders.commands import ReminderCommands
from core.reminders.tools import reminder_tools
from core.tools.registry import ToolContext, ToolRegistry, ToolResult
from core.types import ConversationRef, PlatformIdentity
from tests.reminder_helpers import Platform, kit, make_user

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday
PLACE = ConversationRef("discord", "@dm", "555")


async def _setup(database: Database):  # type: ignore[no-untyped-def]
    clock = ManualClock(NOW)
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    tools = ToolRegistry.of(reminder_tools(k.store, k.runner.poke))
    conversation = await ConversationRepository(database, clock=clock).open_for(PLACE, ana)

    async def call(name: str, **arguments: object) -> ToolResult:
        context = ToolContext(
            user=UserRecord(ana, "Ana", "Europe/Lisbon", {}), conversation_id=conversation, now=clock(),
            timezone=ZoneInfo("Europe/Lisbon"), place=PLACE,
        )  # fmt: skip
        return await tools.run(ToolCall("c1", name, json.dumps(arguments)), context)

    return k, discord, ana, call


async def test_set_reminder_confirms_the_resolved_time_and_zone_in_words(database: Database) -> None:
    k, discord, _ana, call = await _setup(database)

    soon = await call("set_reminder", text="take the cake out", **{"in": "20 minutes"})
    friday = await call("set_reminder", text="call Ana", at="2026-12-11T10:00")
    weekdays = await call("set_reminder", text="top three?", at="2026-12-08T08:30",
                          recurrence="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")  # fmt: skip
    tokyo = await call("set_reminder", text="call Kenji", at="2026-12-08T09:00", timezone="Asia/Tokyo")

    assert soon.notice == "⏰ Monday 7 December, 12:20 Lisbon time: take the cake out"
    assert friday.notice == "⏰ Friday 11 December, 10:00 Lisbon time: call Ana"
    assert weekdays.notice == "⏰ Tuesday 8 December, 08:30 Lisbon time: top three? (every weekday)"
    assert tokyo.notice == "⏰ Tuesday 8 December, 09:00 Tokyo time: call Kenji"
    k.clock.set(datetime(2026, 12, 7, 12, 20, tzinfo=UTC))
    await k.runner.run_due()
    assert discord.texts() == ["⏰ Reminder: take the cake out"]


async def test_bad_times_come_back_as_clear_lines(database: Database) -> None:
    _k, _discord, _ana, call = await _setup(database)

    past = await call("set_reminder", text="x", at="2026-12-07T09:00")
    both = await call("set_reminder", text="x", at="2026-12-08T09:00", **{"in": "2 hours"})
    words = await call("set_reminder", text="x", **{"in": "a while"})
    often = await call("set_reminder", text="x", **{"in": "1 hour"}, recurrence="FREQ=MINUTELY;INTERVAL=1")

    assert past.is_error and "Monday 07 December 2026, 09:00 has already passed in Europe/Lisbon" in past.content
    assert both.is_error and "exactly one of 'at'" in both.content
    assert words.is_error and "can't read 'a while' as a span of time" in words.content
    assert often.is_error and "at most every 10 minutes" in often.content


async def test_cancel_by_words_snooze_in_words_and_the_reminders_command(database: Database) -> None:
    k, discord, ana, call = await _setup(database)
    await call("set_reminder", text="call Ana about the trip", at="2026-12-11T10:00")
    await call("set_reminder", text="call the dentist", at="2026-12-07T12:30")
    await call("set_reminder", text="journal", at="2026-12-07T21:00", recurrence="FREQ=DAILY")

    ambiguous = await call("cancel_reminder", matching="call")
    assert ambiguous.is_error and "several reminders match" in ambiguous.content
    cancelled = await call("cancel_reminder", matching="Ana")
    assert cancelled.notice == "Cancelled: call Ana about the trip"

    k.clock.set(datetime(2026, 12, 7, 12, 30, tzinfo=UTC))
    await k.runner.run_due()
    assert discord.texts() == ["⏰ Reminder: call the dentist"]
    snoozed = await call("snooze_reminder", **{"for": "2 hours"})  # "snooze 2 hours": the one just sent
    assert snoozed.notice == "⏰ Snoozed to Monday 7 December, 14:30 Lisbon time: call the dentist"

    who = PlatformIdentity("discord", "", "ana-discord")

    async def user_of(identity: PlatformIdentity) -> int | None:
        return ana if identity == who else None

    command = ReminderCommands(k.store, user_of=user_of, clock=k.clock, changed=k.runner.poke)

    async def run(action: str = "") -> str:
        return (await command.reminders(CommandRequest(who, PLACE, {"action": action}))).text

    listed = await run()
    assert listed.splitlines()[1:3] == [
        "#2 Monday 7 December, 14:30 Lisbon time · once · to your Discord DM: call the dentist",
        "#3 Monday 7 December, 21:00 Lisbon time · every day · to your Discord DM: journal",
    ]
    assert (await run("pause 3")).startswith("Paused: #3 paused · every day")
    assert "#3 paused · every day · to your Discord DM [paused]: journal" in await run()
    assert (await run("resume 3")).startswith("Resumed: #3 Monday 7 December, 21:00")
    assert (await run("cancel 3")).startswith("Cancelled: #3")
    assert await run("cancel 3") == "You have no reminder #3 that can be cancelled; see /reminders."
    assert (await run("pause")).startswith("Which one?")
    assert (await run("delete everything")).startswith("I didn't understand that.")


async def test_edit_a_reminders_text_time_and_repetition_in_words(database: Database) -> None:
    k, discord, ana, call = await _setup(database)
    await call("set_reminder", text="call Ana", at="2026-12-11T10:00")
    await call("set_reminder", text="journal", at="2026-12-07T21:00", recurrence="FREQ=DAILY")

    moved = await call("edit_reminder", matching="Ana", at="2026-12-07T12:30", text="call Ana about the trip")
    once = await call("edit_reminder", matching="journal", recurrence="none")
    past = await call("edit_reminder", matching="Ana", at="2026-12-07T09:00")
    nothing = await call("edit_reminder", matching="journal")
    tokyo = await call("edit_reminder", matching="journal", at="2026-12-08T09:00", timezone="Asia/Tokyo")

    assert moved.notice == "⏰ Changed: Monday 7 December, 12:30 Lisbon time: call Ana about the trip"
    assert once.notice == "⏰ Changed: Monday 7 December, 21:00 Lisbon time: journal"  # no "(every day)" now
    assert past.is_error and "has already passed" in past.content
    assert nothing.is_error and "say what changes" in nothing.content
    assert tokyo.notice == "⏰ Changed: Tuesday 8 December, 09:00 Tokyo time: journal"
    k.clock.set(datetime(2026, 12, 7, 12, 30, tzinfo=UTC))  # 12:30 in Lisbon (UTC+0 in December)
    await k.runner.run_due()
    assert discord.texts() == ["⏰ Reminder: call Ana about the trip"]  # at the new time, with the new text
    k.clock.set(datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
    assert await k.runner.run_due() == 0  # the journal moved to Tokyo's 09:00 tomorrow
    k.clock.set(datetime(2026, 12, 8, 0, 0, tzinfo=UTC))  # 09:00 in Tokyo
    assert await k.runner.run_due() == 1
    assert discord.texts()[-1] == "⏰ Reminder: journal"
    assert [r.text for r in await k.store.of_user(ana)] == []  # both were once, both sent


async def test_a_paused_reminder_edited_stays_paused(database: Database) -> None:
    k, _discord, ana, call = await _setup(database)
    await call("set_reminder", text="water the plants", at="2026-12-08T08:00", recurrence="FREQ=DAILY")
    (made,) = await k.store.of_user(ana)
    await k.store.pause(ana, made.id)

    edited = await call("edit_reminder", reminder_id=made.id, at="2026-12-08T19:00")

    assert not edited.is_error
    after = await k.store.get(made.id)
    assert after is not None and (after.state, after.next_due, after.next_local) == (
        "paused",
        None,
        "2026-12-08T19:00:00",
    )
    resumed = await k.store.resume(ana, made.id)
    assert resumed is not None and resumed.next_local == "2026-12-08T19:00:00"


async def test_the_reminders_command_renames_and_moves_one(database: Database) -> None:
    k, _discord, ana, call = await _setup(database)
    await call("set_reminder", text="call Ana", at="2026-12-11T10:00")
    (made,) = await k.store.of_user(ana)
    who = PlatformIdentity("discord", "", "555", "Ana")

    async def user_of(_identity: PlatformIdentity) -> int | None:
        return ana

    command = ReminderCommands(k.store, user_of=user_of, clock=k.clock, changed=k.runner.poke)

    async def run(action: str) -> str:
        return (await command.reminders(CommandRequest(who, PLACE, {"action": action}))).text

    renamed = await run(f"rename {made.id} Call Ana about the trip")
    moved = await run(f"move {made.id} 2026-12-11T11:30")
    past = await run(f"move {made.id} 2026-12-01T11:30")
    empty = await run(f"rename {made.id}")
    missing = await run("move 999 2026-12-11T11:30")

    assert renamed == "⏰ Changed: Friday 11 December, 10:00 Lisbon time: Call Ana about the trip"
    assert moved == "⏰ Changed: Friday 11 December, 11:30 Lisbon time: Call Ana about the trip"
    assert past.startswith("I couldn't change it:") and "already passed" in past
    assert empty.startswith("Give the new text or time")
    assert missing == "You have no open reminder #999; see /reminders."


async def test_a_recurring_reminder_that_already_fired_changes_zone_and_becomes_a_one_off(database: Database) -> None:
    k, discord, ana, call = await _setup(database)
    await call("set_reminder", text="journal", at="2026-12-07T21:00", recurrence="FREQ=DAILY")
    for day in (7, 8):  # it fires twice: its first time is long past
        k.clock.set(datetime(2026, 12, day, 21, 0, tzinfo=UTC))
        await k.runner.run_due()
    assert len(discord.texts()) == 2

    tokyo = await call("edit_reminder", matching="journal", timezone="Asia/Tokyo")
    once = await call("edit_reminder", matching="journal", recurrence="none")

    assert tokyo.notice == "⏰ Changed: Wednesday 9 December, 21:00 Tokyo time: journal (every day)"
    assert once.notice == "⏰ Changed: Wednesday 9 December, 21:00 Tokyo time: journal"
