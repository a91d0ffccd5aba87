"""Reminders on SQLite and PostgreSQL with the injected clock: on time in the person's zone, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import ManualClock
from core.db.database import Database
from core.reminders.occurrences import OccurrenceRepository
from core.reminders.store import LimitReached
from core.reminders.times import Schedule, TimeRefused
from tests.reminder_helpers import Crashed, Kit, Platform, assistant_messages, kit, make_user

LISBON = ZoneInfo("Europe/Lisbon")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


async def _run_until(k: Kit, end: datetime) -> list[datetime]:
    """Move the clock from wake to wake up to `end`, running each pass; the instants passes ran at."""
    passes = []
    while True:
        await k.runner.run_due()
        wake = await k.runner.next_wake()
        if wake is None or wake > end:
            k.clock.set(end)
            await k.runner.run_due()
            return passes
        k.clock.set(wake)
        passes.append(wake)


async def test_a_one_off_arrives_once_at_its_local_time_and_is_kept_in_the_history(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    made = await k.store.create(
        user_id=ana, text="call Ana", schedule=Schedule(datetime(2026, 12, 11, 10, 0), LISBON), platform="discord"
    )
    assert made.next_due == datetime(2026, 12, 11, 10, 0, tzinfo=UTC)  # Lisbon is UTC in winter

    clock.set(datetime(2026, 12, 11, 9, 59, tzinfo=UTC))
    assert await k.runner.run_due() == 0
    clock.set(datetime(2026, 12, 11, 10, 0, tzinfo=UTC))
    assert await k.runner.run_due() == 1
    assert await k.runner.run_due() == 0

    assert discord.texts() == ["⏰ Reminder: call Ana"]
    assert discord.looked_back == [None]  # a first send is not preceded by a read-back of the DM
    assert await assistant_messages(database, ana) == ["⏰ Reminder: call Ana"]
    assert (await k.store.get(made.id)).state == "done"
    assert await k.runner.next_wake() is None


async def test_a_weekday_reminder_keeps_its_local_time_across_both_daylight_saving_changes(database: Database) -> None:
    clock = ManualClock(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    await k.store.create(
        user_id=ana, text="top three?", schedule=Schedule(datetime(2026, 3, 23, 8, 30), LISBON, WEEKDAYS),
        platform="discord",
    )  # fmt: skip

    ran = await _run_until(k, datetime(2026, 4, 1, 0, 0, tzinfo=UTC))

    # Lisbon moved to summer time on Sunday 29 March: 08:30 local is 08:30 UTC before, 07:30 UTC after.
    assert [t.isoformat() for t in ran] == [
        "2026-03-23T08:30:00+00:00", "2026-03-24T08:30:00+00:00", "2026-03-25T08:30:00+00:00",
        "2026-03-26T08:30:00+00:00", "2026-03-27T08:30:00+00:00",
        "2026-03-30T07:30:00+00:00", "2026-03-31T07:30:00+00:00",
    ]  # fmt: skip
    assert len(discord.posts) == 7

    clock.set(datetime(2026, 10, 22, 12, 0, tzinfo=UTC))
    k = kit(database, clock, [discord], worker="p2")  # started again after months away
    await k.store.follow_zones()
    ran = await _run_until(k, datetime(2026, 10, 28, 0, 0, tzinfo=UTC))
    # The late catch-up of the months in between collapsed into one message, then the autumn change (25 October).
    assert discord.posts[7].text.startswith("⏰ Reminder: top three?\n(late: I was offline at")
    assert [t.isoformat() for t in ran] == [
        "2026-10-23T07:30:00+00:00",
        "2026-10-26T08:30:00+00:00",
        "2026-10-27T08:30:00+00:00",
    ]
    assert all(post.text == "⏰ Reminder: top three?" for post in discord.posts[8:])


async def test_the_spring_gap_and_the_autumn_overlap_fire_once_each(database: Database) -> None:
    clock = ManualClock(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    max_ = await make_user(database, "Max", timezone="Europe/Berlin")
    await k.store.create(
        user_id=max_, text="night pill", schedule=Schedule(datetime(2026, 3, 28, 2, 30), BERLIN, "FREQ=DAILY"),
        platform="discord",
    )  # fmt: skip
    ran = await _run_until(k, datetime(2026, 3, 31, 0, 0, tzinfo=UTC))
    # 02:30 does not exist on 29 March (02:00 -> 03:00): it comes at 03:30 CEST, the gap's length later.
    assert [t.isoformat() for t in ran] == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:30:00+00:00",
        "2026-03-30T00:30:00+00:00",
    ]

    clock.set(datetime(2026, 10, 24, 3, 0, tzinfo=UTC))
    await k.runner.run_due()  # the catch-up of the summer: one late message
    before = len(discord.posts)
    ran = await _run_until(k, datetime(2026, 10, 27, 0, 0, tzinfo=UTC))
    # 02:30 exists twice on 25 October (03:00 -> 02:00): it fires at the first, once.
    assert [t.isoformat() for t in ran] == ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]
    assert len(discord.posts) == before + 2


async def test_snooze_pause_resume_and_cancel(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    once = await k.store.create(
        user_id=ana, text="stretch", schedule=Schedule(datetime(2026, 12, 7, 9, 0), LISBON), platform="discord"
    )
    daily = await k.store.create(
        user_id=ana, text="water the plants", schedule=Schedule(datetime(2026, 12, 7, 9, 30), LISBON, "FREQ=DAILY"),
        platform="discord",
    )  # fmt: skip

    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    await k.runner.run_due()
    snoozed = await k.store.snooze(ana, once.id, clock() + timedelta(hours=2))
    assert snoozed is not None and snoozed.state == "active" and snoozed.next_local == "2026-12-07T11:00:00"
    assert (await k.store.pause(ana, daily.id)).state == "paused"
    await _run_until(k, datetime(2026, 12, 9, 0, 0, tzinfo=UTC))
    assert discord.texts() == ["⏰ Reminder: stretch", "⏰ Reminder: stretch"]  # the plants stayed paused

    clock.set(datetime(2026, 12, 9, 10, 0, tzinfo=UTC))
    resumed = await k.store.resume(ana, daily.id)
    assert resumed.next_local == "2026-12-10T09:30:00"  # what passed while paused is skipped, not sent late
    await _run_until(k, datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    assert discord.texts()[-1] == "⏰ Reminder: water the plants" and len(discord.posts) == 3
    assert (await k.store.cancel(ana, daily.id)).state == "cancelled"
    assert await k.store.cancel(ana, daily.id) is None
    await _run_until(k, datetime(2026, 12, 20, 0, 0, tzinfo=UTC))
    assert len(discord.posts) == 3


async def test_a_change_of_the_persons_zone_moves_their_reminders_to_the_same_wall_time(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    discord = Platform("discord")
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    made = await k.store.create(
        user_id=ana, text="standup", schedule=Schedule(datetime(2026, 12, 8, 8, 30), LISBON, "FREQ=DAILY"),
        platform="discord",
    )  # fmt: skip
    fixed = await k.store.create(
        user_id=ana, text="call Lisbon office", schedule=Schedule(datetime(2026, 12, 8, 15, 0), LISBON),
        platform="discord", zone_fixed=True,
    )  # fmt: skip
    await k.runner.run_due()

    await k.people.set_timezone(ana, "Asia/Tokyo")  # bumps the people revision every process watches
    await k.runner.run_due()

    moved = await k.store.get(made.id)
    assert (moved.timezone, moved.next_local) == ("Asia/Tokyo", "2026-12-08T08:30:00")
    assert moved.next_due == datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert (await k.store.get(fixed.id)).timezone == "Europe/Lisbon"  # a zone the person named stays
    clock.set(datetime(2026, 12, 7, 23, 30, tzinfo=UTC))
    assert await k.runner.run_due() == 1


async def test_overdue_after_a_restart_comes_late_with_a_note_and_missed_times_collapse(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    discord = Platform("discord")
    first = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    await first.store.create(
        user_id=ana, text="call Ana", schedule=Schedule(datetime(2026, 12, 7, 9, 0), LISBON), platform="discord"
    )
    daily = await first.store.create(
        user_id=ana, text="journal", schedule=Schedule(datetime(2026, 12, 7, 8, 0), LISBON, "FREQ=DAILY"),
        platform="discord",
    )  # fmt: skip
    # The process was down from 06:00 on the 7th to 10:15 on the 10th; a new one starts.
    clock.set(datetime(2026, 12, 10, 10, 15, tzinfo=UTC))
    restarted = kit(database, clock, [discord], worker="p2")
    assert await restarted.runner.run_due() == 2

    assert sorted(discord.texts()) == [
        "⏰ Reminder: call Ana\n(late: I was offline at Monday 07 December 09:00)",
        "⏰ Reminder: journal\n(late: I was offline at 08:00; it was due 4 times meanwhile, "
        "this one message stands for all of them)",
    ]
    assert (await restarted.store.get(daily.id)).next_local == "2026-12-11T08:00:00"


async def test_a_closed_dm_is_told_elsewhere_and_the_reminder_stops(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    discord, slack = Platform("discord", closed={"ana-discord", "bo-discord"}), Platform("slack")
    k = kit(database, clock, [discord, slack])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon", platforms=("discord", "slack"))
    bo = await make_user(database, "Bo", timezone="Europe/Lisbon", platforms=("discord",))
    ana_daily = await k.store.create(
        user_id=ana, text="journal", schedule=Schedule(datetime(2026, 12, 7, 9, 0), LISBON, "FREQ=DAILY"),
        platform="discord",
    )  # fmt: skip
    bo_daily = await k.store.create(
        user_id=bo, text="journal", schedule=Schedule(datetime(2026, 12, 7, 9, 0), LISBON, "FREQ=DAILY"),
        platform="discord",
    )  # fmt: skip

    await _run_until(k, datetime(2026, 12, 12, 0, 0, tzinfo=UTC))

    assert discord.posts == []
    assert slack.texts() == [
        "⏰ Reminder: journal\n(I could not reach you on discord: the person does not accept direct messages "
        "from me. I stopped this reminder; set it again if you want it to go on.)"
    ]
    assert (await k.store.get(ana_daily.id)).state == "undeliverable"
    assert (await k.store.get(bo_daily.id)).state == "undeliverable"  # nowhere else to tell: stopped, not retried
    occurrences = await OccurrenceRepository(database, worker="x").of_reminder(bo_daily.id)
    assert [(o["state"], o["attempts"]) for o in occurrences] == [("undeliverable", 1)]


async def test_a_platform_that_is_down_is_retried_after_the_lease_then_given_up(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    discord = Platform("discord", down=True)
    k = kit(database, clock, [discord])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    made = await k.store.create(
        user_id=ana, text="call Ana", schedule=Schedule(datetime(2026, 12, 7, 9, 0), LISBON), platform="discord"
    )
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    await k.runner.run_due()
    await _run_until(k, datetime(2026, 12, 7, 9, 2, tzinfo=UTC))
    discord.down = False
    await _run_until(k, datetime(2026, 12, 7, 9, 3, tzinfo=UTC))
    assert discord.texts() == ["⏰ Reminder: call Ana\n(late: this was due at 09:00)"]  # up all along: not "offline"

    discord.down = True
    again = await k.store.snooze(ana, made.id, clock() + timedelta(minutes=20))
    await _run_until(k, clock() + timedelta(hours=2))
    occurrences = await OccurrenceRepository(database, worker="x").of_reminder(again.id)
    assert [(o["state"], o["attempts"]) for o in occurrences][-1] == ("failed", 5)
    assert (await k.store.get(made.id)).state == "undeliverable"


async def test_a_crash_between_claim_and_record_delivers_once_after_the_restart(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    discord = Platform("discord")
    dying = kit(database, clock, [discord], worker="dying")
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    for hour in (9, 10):
        await dying.store.create(
            user_id=ana, text=f"at {hour}", schedule=Schedule(datetime(2026, 12, 7, hour, 0), LISBON),
            platform="discord",
        )  # fmt: skip
    repo = dying.runner.occurrences
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    first, second = await dying.store.due(clock())
    await repo.claim(first, clock())  # claimed, then killed before sending
    held = await repo.claim(second, clock())
    discord.crash_after_post = True
    with pytest.raises(Crashed):
        await dying.runner.delivery.deliver(held)  # posted, then killed before recording it
    discord.crash_after_post = False

    restarted = kit(database, clock, [discord], worker="restarted")
    assert await restarted.runner.run_due() == 0  # the dead process's leases still run
    clock.advance(seconds=46)
    assert await restarted.runner.run_due() == 2
    assert sorted(discord.texts()) == ["⏰ Reminder: at 10", "⏰ Reminder: at 9\n(late: I was offline at 09:00)"]
    assert len(await assistant_messages(database, ana)) == 2


async def test_limits_refuse_the_past_the_too_frequent_the_too_far_and_the_too_many(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    k = kit(database, clock, [Platform("discord")], max_active=2)
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")

    async def make(start: datetime, rule: str | None = None) -> None:
        await k.store.create(user_id=ana, text="x", schedule=Schedule(start, LISBON, rule), platform="discord")

    with pytest.raises(TimeRefused, match="has already passed"):
        await make(datetime(2026, 12, 7, 11, 0))
    with pytest.raises(TimeRefused, match="every 10 minutes"):
        await make(datetime(2026, 12, 7, 13, 0), "FREQ=MINUTELY;INTERVAL=5")
    with pytest.raises(TimeRefused, match="more than 5 years"):
        await make(datetime(2032, 1, 1, 9, 0))
    await make(datetime(2026, 12, 7, 13, 0), "FREQ=MINUTELY;INTERVAL=10")
    await make(datetime(2026, 12, 8, 13, 0))
    with pytest.raises(TimeRefused, match="already have 2 reminders"):
        await make(datetime(2026, 12, 9, 13, 0))


async def test_reminders_turned_off_say_so_instead_of_counting_zero(database: Database) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    k = kit(database, clock, [Platform("discord")], max_active=0)
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")

    with pytest.raises(LimitReached) as refused:
        await k.store.create(
            user_id=ana, text="x", schedule=Schedule(datetime(2026, 12, 8, 9, 0), LISBON), platform="discord"
        )

    assert (
        str(refused.value)
        == "reminders are turned off on this assistant (REMINDERS_PER_USER is 0), so I can't set one."
    )
    assert await k.store.of_user(ana) == []
