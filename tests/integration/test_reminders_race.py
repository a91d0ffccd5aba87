"""Two processes (two engines, two runners) on one database racing for many due reminders: each goes out once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Message
from core.reminders.times import Schedule
from tests.reminder_helpers import Platform, kit, make_user

LISBON = ZoneInfo("Europe/Lisbon")


async def test_two_runners_deliver_each_due_reminder_exactly_once(database: Database) -> None:
    count = 600 if database.dialect == "postgresql" else 120
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    discord = Platform("discord")  # one platform both processes post to, so a double post would show
    other = Database(database.url)
    try:
        first, second = kit(database, clock, [discord], worker="p1"), kit(other, clock, [discord], worker="p2")
        users = [await make_user(database, f"user{n}", timezone="Europe/Lisbon") for n in range(20)]
        for n in range(count):
            await first.store.create(
                user_id=users[n % len(users)], text=f"reminder {n}",
                schedule=Schedule(datetime(2026, 12, 7, 9, 0), LISBON, "FREQ=DAILY" if n % 2 else None),
                platform="discord",
            )  # fmt: skip
        clock.set(datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC))

        sent = sum(await asyncio.gather(first.runner.run_due(), second.runner.run_due(), first.runner.run_due()))
        # A send that hit a passing error under load (SQLite's lock wait on a busy machine) is taken
        # over once its lease ran out, as after a crash; the count must still come out exact.
        clock.advance(minutes=1)
        sent += sum(await asyncio.gather(first.runner.run_due(), second.runner.run_due()))

        assert sent == count
        texts = Counter(post.text for post in discord.posts)
        assert len(texts) == count and set(texts.values()) == {1}
        async with database.session() as session:
            stored = await session.scalar(select(func.count()).select_from(Message).where(Message.role == "assistant"))
        assert stored == count
        assert await first.runner.next_wake() == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    finally:
        await other.dispose()
