"""The buttons of reminders (each one a ``/reminders`` line): Done, Snooze, Reschedule under a reminder,
Undo under a confirmation; and what a snooze choice ("20m", "1h", "morning") means."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.buttons import Button
from core.reminders.times import parse_offset, to_local, to_utc

COMMAND = "reminders"
# "Tomorrow morning" is at this wall time in the reminder's zone.
MORNING = time(9, 0)


def reminder_buttons(reminder_id: int) -> tuple[Button, ...]:
    """Under a delivered reminder: Done, Snooze 20 minutes, 1 hour, tomorrow morning, and Reschedule."""
    return (
        Button("Done", COMMAND, f"done {reminder_id}"),
        Button("Snooze 20 min", COMMAND, f"snooze {reminder_id} 20m"),
        Button("Snooze 1 hour", COMMAND, f"snooze {reminder_id} 1h"),
        Button("Tomorrow morning", COMMAND, f"snooze {reminder_id} morning"),
        Button("Reschedule", COMMAND, f"reschedule {reminder_id}"),
    )


def undo_button(reminder_id: int) -> Button:
    """Under the confirmation of a reminder just set: cancels it."""
    return Button("Undo", COMMAND, f"undo {reminder_id}")


def snooze_until(choice: str, now: datetime, zone: ZoneInfo) -> datetime:
    """When a snooze of `choice` ends: "morning" is tomorrow at 09:00 in `zone`, anything else a span
    ("20m", "1h", "2 hours"); raises :class:`core.reminders.times.TimeRefused` for words it cannot read."""
    if choice.strip().lower() in ("morning", "tomorrow", "tomorrow morning"):
        tomorrow = to_local(now, zone).date() + timedelta(days=1)
        return to_utc(datetime.combine(tomorrow, MORNING), zone)
    return now + parse_offset(choice)
