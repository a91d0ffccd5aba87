"""Follow-ups: the open items a summary lists, offered once the next morning, and "Remind me" on one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from core.clock import ManualClock
from core.commands import CommandRequest
from core.db.database import Database
from core.reminders.commands import ReminderCommands
from core.reminders.followups import FollowUps, open_items
from core.types import ConversationRef, PlatformIdentity
from tests.reminder_helpers import Platform, kit, make_user

LISBON = ZoneInfo("Europe/Lisbon")
DAY = date(2026, 12, 7)  # a Monday; Lisbon is on UTC in winter
SUMMARY = (
    "**Discussed**\n- The harbour trip\n\n**Open items**\n- Call the dentist\n- **Send the report by Friday\n"
    "- call the dentist\n\n**Open questions**\n- Which boat?"
)


def test_the_open_items_are_the_bullets_of_their_section() -> None:
    assert open_items(SUMMARY) == ["Call the dentist", "Send the report by Friday"]


def test_a_to_do_heading_or_numbered_items_count_and_other_sections_do_not() -> None:
    assert open_items("## To do\n1. Book the crane\n2) Pay the marina\n\nDone today.") == [
        "Book the crane",
        "Pay the marina",
    ]
    assert open_items("**Discussed**\n- The regatta") == []
    assert len(open_items("**Open items**\n" + "\n".join(f"- item {n}" for n in range(9)))) == 5


async def test_the_offer_comes_once_at_nine_the_next_morning_and_remind_me_sets_a_reminder_for_the_afternoon(
    database: Database,
) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 22, 31, tzinfo=UTC))
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    follow_ups = FollowUps(database, clock=clock, changed=k.runner.poke)

    assert await follow_ups.offer(ana, DAY, LISBON, SUMMARY, "discord") == 2
    assert await follow_ups.offer(ana, DAY, LISBON, SUMMARY, "discord") == 2  # a retried daily log: no second offer
    assert await follow_ups.offer(ana, DAY, LISBON, "**Discussed**\n- x", "discord") == 0
    assert await k.store.of_user(ana) == []  # an offer is not one of the person's reminders
    clock.set(datetime(2026, 12, 8, 8, 59, tzinfo=UTC))
    assert await k.runner.run_due() == 0
    clock.set(datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
    assert await k.runner.run_due() == 1
    (post,) = discord.posts
    assert post.text.startswith("☀️ Open from Monday 7 December 2026:\n• Call the dentist\n• Send the report")
    assert [b.label for b in post.buttons] == ["Remind me: Call the dentist", "Remind me: Send the report by Friday"]

    who = PlatformIdentity("discord", "", "ana-discord")

    async def user_of(identity: PlatformIdentity) -> int | None:
        return ana if identity == who else None

    command = ReminderCommands(k.store, user_of=user_of, clock=clock, changed=k.runner.poke)
    place = ConversationRef("discord", "@dm", "555")

    async def press(button: int) -> str:
        argument = post.buttons[button].action_id.split(":", 2)[2]
        return (await command.reminders(CommandRequest(who, place, {"action": argument}))).text

    said = await press(0)
    assert said.startswith("⏰ Tuesday 8 December, 14:00 Lisbon time: Call the dentist (#")
    clock.set(datetime(2026, 12, 8, 13, 30, tzinfo=UTC))
    assert (await press(1)).startswith("⏰ Tuesday 8 December, 14:30 Lisbon time: Send the report")  # in an hour
    assert (await command.reminders(CommandRequest(who, place, {"action": "remind 1 7"}))).text == (
        "I can't find that open item any more; ask me in words instead."
    )
    clock.set(datetime(2026, 12, 8, 14, 0, tzinfo=UTC))
    assert await k.runner.run_due() == 1
    assert discord.texts()[-1] == "⏰ Reminder: Call the dentist"


async def test_a_day_posted_after_the_morning_offers_its_items_at_once(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 8, 11, 0, tzinfo=UTC))  # the log of Monday, posted late on Tuesday
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")

    await FollowUps(database, clock=clock, changed=k.runner.poke).offer(ana, DAY, LISBON, SUMMARY, "discord")
    clock.advance(minutes=1)

    assert await k.runner.run_due() == 1
    assert discord.texts()[0].startswith("☀️ Open from Monday 7 December 2026:")
