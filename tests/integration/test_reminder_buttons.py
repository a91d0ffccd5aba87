"""The buttons under a reminder (Done, Snooze 20 min / 1 hour / tomorrow morning, Reschedule) and Undo: each a
/reminders line, as the person reads its answer."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.buttons import parse_action
from core.clock import ManualClock
from core.commands import CommandRequest
from core.db.database import Database
from core.reminders.commands import ReminderCommands
from core.reminders.times import Schedule
from core.types import ConversationRef, PlatformIdentity
from tests.reminder_helpers import Platform, kit, make_user

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Monday; Lisbon is on UTC in winter
PLACE = ConversationRef("discord", "@dm", "555")
WHO = PlatformIdentity("discord", "", "ana-discord")


async def _setup(database: Database):  # type: ignore[no-untyped-def]
    clock = ManualClock(NOW)
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")

    async def user_of(identity: PlatformIdentity) -> int | None:
        return ana if identity == WHO else None

    command = ReminderCommands(k.store, user_of=user_of, clock=clock, changed=k.runner.poke)

    async def press(argument: str) -> str:
        return (await command.reminders(CommandRequest(WHO, PLACE, {"action": argument}))).text

    return k, discord, ana, press


async def test_a_delivered_reminder_carries_its_buttons_and_each_runs_a_reminders_line(database: Database) -> None:
    k, discord, ana, press = await _setup(database)
    made = await k.store.create(user_id=ana, text="call Ana", platform="discord",
                                schedule=Schedule(datetime(2026, 12, 7, 12, 30), ZoneInfo("Europe/Lisbon")))  # fmt: skip
    k.clock.set(datetime(2026, 12, 7, 12, 30, tzinfo=UTC))
    assert await k.runner.run_due() == 1

    (post,) = discord.posts
    assert [(b.label, parse_action(b.action_id)) for b in post.buttons] == [
        ("Done", ("reminders", f"done {made.id}")),
        ("Snooze 20 min", ("reminders", f"snooze {made.id} 20m")),
        ("Snooze 1 hour", ("reminders", f"snooze {made.id} 1h")),
        ("Tomorrow morning", ("reminders", f"snooze {made.id} morning")),
        ("Reschedule", ("reminders", f"reschedule {made.id}")),
    ]
    assert await press(f"reschedule {made.id}") == (
        "When should “call Ana” come instead? Tell me, e.g. “move it to Friday at 9”."
    )
    assert await press(f"snooze {made.id} 1h") == "💤 Snoozed to Monday 7 December, 13:30 Lisbon time."
    assert await press(f"snooze {made.id} morning") == "💤 Snoozed to Tuesday 8 December, 09:00 Lisbon time."
    assert await press(f"snooze {made.id} a while") == (
        "I couldn't snooze it: I can't read 'a while' as a span of time; say e.g. '20 minutes' or '2 hours'."
    )
    assert await press(f"done {made.id}") == "✅ Done."  # done while snoozed: it does not come back
    k.clock.set(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert await k.runner.run_due() == 0
    assert await press("done 999") == "You have no reminder #999; see /reminders."


async def test_snoozing_a_recurring_reminder_adds_a_one_off_and_done_tells_the_next_time(database: Database) -> None:
    k, discord, ana, press = await _setup(database)
    daily = await k.store.create(user_id=ana, text="journal", platform="discord", schedule=Schedule(
        datetime(2026, 12, 7, 21, 0), ZoneInfo("Europe/Lisbon"), "FREQ=DAILY"))  # fmt: skip
    k.clock.set(datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
    assert await k.runner.run_due() == 1

    assert await press(f"snooze {daily.id} 20m") == "💤 Snoozed to Monday 7 December, 21:20 Lisbon time."
    assert await press(f"done {daily.id}") == "✅ Done. Next time: Tuesday 8 December, 21:00 Lisbon time."
    k.clock.set(datetime(2026, 12, 7, 21, 20, tzinfo=UTC))
    assert await k.runner.run_due() == 1
    assert discord.texts() == ["⏰ Reminder: journal", "⏰ Reminder: journal"]


async def test_undo_cancels_the_reminder_just_set_and_says_when_there_is_nothing_left_to_undo(
    database: Database,
) -> None:
    k, discord, ana, press = await _setup(database)
    made = await k.store.create(user_id=ana, text="call Ana", platform="discord",
                                schedule=Schedule(datetime(2026, 12, 11, 10, 0), ZoneInfo("Europe/Lisbon")))  # fmt: skip

    assert await press(f"undo {made.id}") == ("↩️ Undone: Friday 11 December, 10:00 Lisbon time: call Ana is cancelled.")
    assert await press(f"undo {made.id}") == f"Reminder #{made.id} is no longer open; nothing to undo."
    assert await k.store.of_user(ana) == []
    assert (await press(f"cancel {made.id} now")).startswith("I didn't understand that.")
