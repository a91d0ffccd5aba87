"""Reminders in plain words: when, how often, where (data in, sentences out; the tools and /reminders use it)."""

from __future__ import annotations

from datetime import datetime

from core.reminders.store import ReminderRecord
from core.reminders.times import spoken, wall

_DAYS = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday", "SA": "Saturday",
         "SU": "Sunday"}  # fmt: skip
# Where a reminder goes, as a list line says it ("to your Discord DM", "to the terminal chat").
_DESTINATIONS = {
    "discord": "your Discord DM",
    "slack": "your Slack DM",
    "terminal": "the terminal chat",
    "web": "the web chat",
}


def recurrence(rule: str | None) -> str:
    """ "once", "every day", "every weekday", "every Monday and Thursday", or the rule itself."""
    if not rule:
        return "once"
    parts = dict(p.split("=", 1) for p in rule.upper().removeprefix("RRULE:").split(";") if "=" in p)
    freq, interval = parts.pop("FREQ", ""), parts.pop("INTERVAL", "1")
    days = parts.pop("BYDAY", "")
    parts.pop("WKST", None)
    if parts or interval != "1":
        return f"repeating ({rule})"
    if freq == "DAILY" and not days:
        return "every day"
    if freq == "WEEKLY" and days:
        names = days.split(",")
        if sorted(names) == sorted(["MO", "TU", "WE", "TH", "FR"]):
            return "every weekday"
        if all(n in _DAYS for n in names):
            named = [_DAYS[n] for n in names]
            return "every " + (named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1])
    if freq == "WEEKLY" and not days:
        return "every week"
    if freq == "MONTHLY" and not days:
        return "every month"
    if freq == "YEARLY" and not days:
        return "every year"
    return f"repeating ({rule})"


def when(reminder: ReminderRecord, now: datetime) -> str:
    """The next time in words, with the year when it is not this year ("Friday 11 December, 10:00 Lisbon time")."""
    if reminder.next_local is None:
        return "no further time"
    local = wall(reminder.next_local)
    text = spoken(local, reminder.zone)
    if local.year != now.astimezone(reminder.zone).year:
        text = text.replace(local.strftime("%B"), f"{local.strftime('%B')} {local.year}", 1)
    return text


def confirmation(reminder: ReminderRecord, now: datetime) -> str:
    """ "Friday 11 December, 10:00 Lisbon time: call Ana" (+ ", every weekday")."""
    repeat = recurrence(reminder.rrule)
    tail = "" if repeat == "once" else f" ({repeat})"
    return f"{when(reminder, now)}: {reminder.text}{tail}"


def destination(reminder: ReminderRecord) -> str:
    """Where it will be sent: "your Discord DM", "the web chat"."""
    return _DESTINATIONS.get(reminder.platform, f"your {reminder.platform} DM")


def line(reminder: ReminderRecord, now: datetime) -> str:
    """One line of a list: number, next time, recurrence, state, where it goes, text."""
    where = destination(reminder)
    state = "" if reminder.state == "active" else f" [{reminder.state}]"
    nxt = "paused" if reminder.state == "paused" else when(reminder, now)
    return f"#{reminder.id} {nxt} · {recurrence(reminder.rrule)} · to {where}{state}: {reminder.text}"
