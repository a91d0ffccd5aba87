"""The terminal chat prints a reminder when it is due while the chat is open."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from adapters.terminal.messenger import TerminalMessenger
from core.clock import ManualClock
from core.commands import CommandRequest
from core.db.database import Database
from core.reminders.commands import ReminderCommands
from core.reminders.occurrences import OccurrenceRepository
from core.reminders.times import Schedule
from core.types import ConversationRef, PlatformIdentity
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
    # No buttons in a terminal: the command each one runs, to type.
    assert "Done: /reminders done 1 · Snooze 20 min: /reminders snooze 1 20m" in out.getvalue()
    assert await assistant_messages(database, ana) == ["⏰ Reminder: tea is ready"]


async def test_the_terminal_leaves_other_platforms_reminders_and_their_abandoned_sends_alone(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    terminal = TerminalMessenger(Console(file=io.StringIO()), user="ana-terminal", files_dir=tmp_path)
    k = kit(database, clock, [terminal])  # type: ignore[list-item]
    k.runner.platforms = ("terminal",)
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon", platforms=("discord",))
    made = await k.store.create(
        user_id=ana, text="on discord", schedule=Schedule(datetime(2026, 12, 7, 9, 0), ZoneInfo("Europe/Lisbon")),
        platform="discord",
    )  # fmt: skip
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    assert await k.runner.next_wake() is None
    await OccurrenceRepository(database, worker="crashed-run").claim(made.id, clock())  # a `run` process died here
    clock.advance(minutes=5)

    assert await k.runner.run_due() == 0
    assert await k.runner.next_wake() is None  # nothing for this process to wake for: no spinning on it
    (occurrence,) = await OccurrenceRepository(database, worker="x").of_reminder(made.id)
    assert (occurrence["state"], occurrence["attempts"]) == ("claimed", 1)


async def test_reminders_lists_where_each_goes_in_words_that_read(database: Database) -> None:
    """Not "to your the terminal DM": the terminal and the web are chats, Discord and Slack DMs."""
    clock = ManualClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    k = kit(database, clock, [])
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon", platforms=("terminal",))
    for platform in ("terminal", "web", "discord"):
        await k.store.create(
            user_id=ana, text=f"asked on {platform}", platform=platform,
            schedule=Schedule(datetime(2026, 12, 7, 9, 0), ZoneInfo("Europe/Lisbon")),
        )  # fmt: skip
    here = PlatformIdentity("terminal", "local", "ana-terminal")

    async def user_of(identity: PlatformIdentity) -> int | None:
        return ana if identity == here else None

    command = ReminderCommands(k.store, user_of=user_of, clock=clock, changed=k.runner.poke)
    listed = await command.reminders(CommandRequest(here, ConversationRef("terminal", "local", "ana"), {"action": ""}))

    assert listed.text.splitlines()[1:4] == [
        "#1 Monday 7 December, 09:00 Lisbon time · once · to the terminal chat: asked on terminal",
        "#2 Monday 7 December, 09:00 Lisbon time · once · to the web chat: asked on web",
        "#3 Monday 7 December, 09:00 Lisbon time · once · to your Discord DM: asked on discord",
    ]
    assert listed.text.splitlines()[-1] == "Change one by its number: /reminders cancel 1, pause 1 or resume 1."
