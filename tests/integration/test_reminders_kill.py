"""kill -9 between the platform accepting a reminder and its record: delivered once after the restart."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.clock import ManualClock
from core.db.database import Database
from core.reminders.occurrences import OccurrenceRepository
from core.reminders.times import Schedule
from tests.reminder_child import NOW, FilePlatform
from tests.reminder_helpers import assistant_messages, kit, make_user


async def test_a_process_killed_after_posting_is_taken_over_without_a_second_post(
    database: Database, tmp_path: Path
) -> None:
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    posts = tmp_path / "posts.jsonl"
    clock = ManualClock(NOW - timedelta(hours=1))
    first = kit(database, clock, [FilePlatform(posts, hang=False)])  # type: ignore[list-item]
    made = await first.store.create(
        user_id=ana, text="call Ana", schedule=Schedule(datetime(2026, 12, 7, 9, 0), ZoneInfo("Europe/Lisbon")),
        platform="discord",
    )  # fmt: skip

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reminder_child", database.url, str(posts),
        cwd=Path(__file__).parents[2], stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        said = await asyncio.wait_for(child.stdout.readline(), 60)  # a deadline against a hang only
        assert said == b"posted\n"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    clock.set(NOW)
    restarted = kit(database, clock, [FilePlatform(posts, hang=False)], worker="restarted")  # type: ignore[list-item]
    assert await restarted.runner.run_due() == 0  # the dead process's lease still runs
    clock.advance(seconds=46)
    assert await restarted.runner.run_due() == 1

    assert [p["text"] for p in FilePlatform(posts, hang=False).posts()] == ["⏰ Reminder: call Ana"]
    assert await assistant_messages(database, ana) == ["⏰ Reminder: call Ana"]
    (occurrence,) = await OccurrenceRepository(database, worker="x").of_reminder(made.id)
    assert (occurrence["state"], occurrence["attempts"], occurrence["claimed_by"]) == ("delivered", 2, "restarted")
