"""The terminal chat prints a reminder when it is due while the chat is open."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from adapters.terminal.messenger import TerminalMessenger
from core.clock import ManualClock
from core.db.database import Database
from core.reminders.times import Schedule
from tests.reminder_helpers import assistant_messages, kit, make_user


async def test_the_terminal_prints_the_reminder_and_keeps_it_in_its_conversation(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    out = io.StringIO()
    terminal = TerminalMessenger(Console(file=out, width=100), user="ana-terminal", files_dir=tmp_path)
    k = kit(database, clock, [terminal])  # type: ignore[list-item]
    k.runner.platforms = ("terminal",)  # as the terminal chat runs it
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon", platforms=("terminal",))
    await k.store.create(
        user_id=ana, text="tea is ready", schedule=Schedule(datetime(2026, 12, 7, 9, 0), ZoneInfo("Europe/Lisbon")),
        platform="terminal",
    )  # fmt: skip
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))

    assert await k.runner.run_due() == 1

    assert "assistant › ⏰ Reminder: tea is ready" in out.getvalue()
    assert await assistant_messages(database, ana) == ["⏰ Reminder: tea is ready"]
