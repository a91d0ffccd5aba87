"""Reminders anchored to Google Calendar events (against the Google fake): set from words of the event's title,
moved when the event moves, cancelled with it, and looked up once more just before they are sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Identity
from core.db.repositories import UserRecord
from core.google.calendar import CalendarClient
from core.llm import ToolCall
from core.reminders.anchors import CalendarAnchors
from core.reminders.event_tool import SetEventReminder
from core.tools.registry import ToolContext, ToolRegistry, ToolResult
from core.types import ConversationRef
from tests.fakes.google_server import FakeGoogle
from tests.integration.google.test_google_api import _connected
from tests.reminder_helpers import Platform, kit

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday; Paris is UTC+1
PLACE = ConversationRef("discord", "@dm", "555")


async def _setup(database: Database, google_fake: FakeGoogle):  # type: ignore[no-untyped-def]
    google, ada = await _connected(database, google_fake)
    async with database.session() as session, session.begin():
        await session.execute(insert(Identity).values(
            user_id=ada, platform="discord", workspace="", platform_user_id="ada-discord", display_name="Ada",
            created_at=NOW, last_used_at=NOW))  # fmt: skip
    clock = ManualClock(NOW)
    discord = Platform("discord")
    calendar = CalendarClient(google.api)
    k = kit(database, clock, [discord], calendar=calendar)
    tools = ToolRegistry.of([SetEventReminder(k.store, CalendarAnchors(calendar, k.store, clock=clock), k.runner.poke)])

    async def call(**arguments: object) -> ToolResult:
        context = ToolContext(user=UserRecord(ada, "Ada", "Europe/Paris", {}), conversation_id=None, now=clock(),
                              timezone=PARIS, place=PLACE)  # fmt: skip
        return await tools.run(ToolCall("c1", "set_event_reminder", json.dumps(arguments)), context)

    return k, discord, calendar, ada, call


async def test_a_reminder_follows_its_event_when_it_moves_and_goes_when_it_is_cancelled(
    database: Database, google_fake: FakeGoogle
) -> None:
    k, discord, calendar, ada, call = await _setup(database, google_fake)
    exam = await calendar.create_event(ada, title="Maths exam", start=datetime(2026, 11, 26, 10, 0),
                                       end=datetime(2026, 11, 26, 12, 0), timezone="Europe/Paris")  # fmt: skip
    dentist = await calendar.create_event(ada, title="Dentist", start=datetime(2026, 11, 25, 15, 0),
                                          end=datetime(2026, 11, 25, 15, 30), timezone="Europe/Paris")  # fmt: skip

    after = await call(text="how did the exam go?", event="exam", anchor="end")
    before = await call(text="leave for the dentist", event="dentist", anchor="start", offset_minutes=-10)
    nothing = await call(text="x", event="wedding", anchor="start")

    assert after.notice == ("⏰ Thursday 26 November, 12:00 Paris time: how did the exam go? "
                            "(when “Maths exam” ends; it follows the event if it moves)")  # fmt: skip
    assert before.notice == ("⏰ Wednesday 25 November, 14:50 Paris time: leave for the dentist "
                             "(10 minutes before “Dentist” starts; it follows the event if it moves)")  # fmt: skip
    assert nothing.is_error and "no upcoming calendar event matches 'wedding'" in nothing.content
    await calendar.update_event(ada, exam.id, timezone="Europe/Paris", start=datetime(2026, 11, 26, 14, 0),
                                end=datetime(2026, 11, 26, 16, 0))  # fmt: skip
    await calendar.delete_event(ada, dentist.id)

    k.clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # both are due within a day: looked up again
    assert await k.runner.run_due() == 0
    (left,) = await k.store.of_user(ada)
    assert (left.text, left.next_local) == ("how did the exam go?", "2026-11-26T16:00:00")
    k.clock.set(datetime(2026, 11, 25, 13, 50, tzinfo=UTC))  # the dentist's old time: cancelled with it
    assert await k.runner.run_due() == 0
    k.clock.set(datetime(2026, 11, 26, 11, 0, tzinfo=UTC))  # the exam's old end
    assert await k.runner.run_due() == 0
    k.clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # its new end, 16:00 in Paris
    assert await k.runner.run_due() == 1
    assert discord.texts() == ["⏰ Reminder: how did the exam go?"]


async def test_a_move_between_two_look_ups_is_caught_just_before_sending(
    database: Database, google_fake: FakeGoogle
) -> None:
    k, discord, calendar, ada, call = await _setup(database, google_fake)
    exam = await calendar.create_event(ada, title="Exam", start=datetime(2026, 11, 24, 12, 0),
                                       end=datetime(2026, 11, 24, 13, 0), timezone="Europe/Paris")  # fmt: skip
    await call(text="how did it go?", event="exam", anchor="end")
    k.clock.set(datetime(2026, 11, 24, 11, 55, tzinfo=UTC))
    assert await k.runner.run_due() == 0  # looked up: unchanged
    await calendar.update_event(ada, exam.id, timezone="Europe/Paris", end=datetime(2026, 11, 24, 13, 30))

    k.clock.set(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))  # 5 minutes later: no look-up pass yet, but delivery asks
    assert await k.runner.run_due() == 0
    assert discord.texts() == []
    k.clock.advance(timedelta(minutes=30))
    assert await k.runner.run_due() == 1
    assert discord.texts() == ["⏰ Reminder: how did it go?"]
    (occurrences, delivered) = [o["state"] for o in await k.runner.occurrences.of_reminder(1)]
    assert (occurrences, delivered) == ("moved", "delivered")


async def test_before_each_meeting_goes_from_one_event_to_the_next_and_skips_a_cancelled_one(
    database: Database, google_fake: FakeGoogle
) -> None:
    k, discord, calendar, ada, call = await _setup(database, google_fake)

    async def meeting(title: str, day: int, hour: int) -> str:
        made = await calendar.create_event(ada, title=title, start=datetime(2026, 11, day, hour, 0),
                                           end=datetime(2026, 11, day, hour + 1, 0), timezone="Europe/Paris")  # fmt: skip
        return made.id

    await meeting("Standup", 24, 11)
    await meeting("Lunch with Bo", 24, 12)
    second = await meeting("Standup", 25, 11)
    await meeting("Standup", 26, 11)

    set_ = await call(text="a meeting is coming", event="standup", anchor="start", offset_minutes=-10, each=True)

    assert set_.notice == ("⏰ Tuesday 24 November, 10:50 Paris time: a meeting is coming (10 minutes before each "
                           "“standup” event starts, first “Standup”; it follows the event if it moves)")  # fmt: skip
    k.clock.set(datetime(2026, 11, 24, 9, 50, tzinfo=UTC))  # 10:50 in Paris
    assert await k.runner.run_due() == 1
    (next_one,) = await k.store.of_user(ada)
    assert next_one.next_local == "2026-11-25T10:50:00"  # on to the next standup, the lunch left out
    await calendar.delete_event(ada, second)
    k.clock.set(datetime(2026, 11, 25, 9, 50, tzinfo=UTC))
    assert await k.runner.run_due() == 0  # that standup was cancelled: on to the one after
    (after,) = await k.store.of_user(ada)
    assert after.next_local == "2026-11-26T10:50:00"
    k.clock.set(datetime(2026, 11, 26, 9, 50, tzinfo=UTC))
    assert await k.runner.run_due() == 1
    assert discord.texts() == ["⏰ Reminder: a meeting is coming"] * 2
    (parked,) = await k.store.of_user(ada)  # no standup in sight: it looks again a day later
    assert parked.next_local == "2026-11-27T10:50:00"


async def test_a_meeting_moved_away_and_back_to_a_time_already_claimed_still_gets_its_reminder(
    database: Database, google_fake: FakeGoogle
) -> None:
    k, discord, calendar, ada, call = await _setup(database, google_fake)
    standup = await calendar.create_event(ada, title="Standup", start=datetime(2026, 11, 24, 11, 0),
                                          end=datetime(2026, 11, 24, 11, 30), timezone="Europe/Paris")  # fmt: skip
    await call(text="a meeting is coming", event="standup", anchor="start", offset_minutes=-10, each=True)
    k.clock.set(datetime(2026, 11, 24, 9, 45, tzinfo=UTC))
    assert await k.runner.run_due() == 0  # looked up: unchanged
    await calendar.update_event(ada, standup.id, timezone="Europe/Paris", start=datetime(2026, 11, 24, 12, 0),
                                end=datetime(2026, 11, 24, 12, 30))  # fmt: skip

    k.clock.set(datetime(2026, 11, 24, 9, 50, tzinfo=UTC))  # 10:50 in Paris: claimed, then found moved to 12:00
    assert await k.runner.run_due() == 0
    (moved,) = await k.store.of_user(ada)
    assert moved.next_local == "2026-11-24T11:50:00"
    # ...and back to 11:00.
    await calendar.update_event(ada, standup.id, timezone="Europe/Paris", start=datetime(2026, 11, 24, 11, 0),
                                end=datetime(2026, 11, 24, 11, 30))  # fmt: skip
    k.clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # the next look-up follows it back: 10:50 is past

    assert await k.runner.run_due() == 1
    assert discord.texts() == ["⏰ Reminder: a meeting is coming\n(late: this was due at 10:50)"]
    states = [o["state"] for o in await k.runner.occurrences.of_reminder(1)]
    assert states == ["delivered"]  # the occurrence given up at the move is the one sent


async def test_each_meeting_due_while_the_assistant_was_offline_is_sent_late_with_a_note(
    database: Database, google_fake: FakeGoogle
) -> None:
    k, discord, calendar, ada, call = await _setup(database, google_fake)
    for day in (24, 25):
        await calendar.create_event(ada, title="Standup", start=datetime(2026, 11, day, 11, 0),
                                    end=datetime(2026, 11, day, 11, 30), timezone="Europe/Paris")  # fmt: skip
    await call(text="a meeting is coming", event="standup", anchor="start", offset_minutes=-10, each=True)

    # The process stopped at 10:00 Paris time; another starts at 13:00, after the first standup ended.
    k.clock.set(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    restarted = kit(database, k.clock, [discord], worker="p2", calendar=calendar)
    assert await restarted.runner.run_due() == 1

    assert discord.texts() == ["⏰ Reminder: a meeting is coming\n(late: I was offline at 10:50)"]
    (next_one,) = await restarted.store.of_user(ada)
    assert next_one.next_local == "2026-11-25T10:50:00"  # then on to the next standup
    k.clock.set(datetime(2026, 11, 25, 9, 50, tzinfo=UTC))
    assert await restarted.runner.run_due() == 1
    assert discord.texts()[1] == "⏰ Reminder: a meeting is coming"
