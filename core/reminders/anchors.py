"""Reminders anchored to a calendar event ("check in after my exam", "ping me 10 minutes before the dentist"),
or to each event whose title holds some words ("ping me 10 minutes before each meeting").

The reminder keeps the event's id, which end of it counts and an offset in minutes
(``reminders.calendar``); its time is the event's start or end plus the offset, as a
wall time in the person's zone like any reminder. The event may move or be
cancelled after the reminder was set, so the time is looked up again: for every
anchored reminder due within a day, at most every :data:`REFRESH` (a moved event
moves the reminder, a cancelled one cancels it), and once more just before it is
sent. When Google cannot be asked, the last known time stands. An "each" reminder is
kept on the next such event: after it is sent, and whenever its event moved later or was
cancelled, it moves on to the next one (with none in sight, it looks again a day later).
It follows its event earlier too, to a time already past as well (sent late, like any
reminder due while the assistant was offline).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from core.google.calendar import CalendarClient, CalendarEvent
from core.reminders.store import ReminderRecord, ReminderStore
from core.reminders.times import to_local

log = logging.getLogger(__name__)

REFRESH = timedelta(minutes=15)
PARK = timedelta(days=1)  # an "each" reminder with no event in sight looks again this much later
LOOK_AHEAD = timedelta(days=1)  # how far ahead anchored reminders are looked at on each refresh
FIND_AHEAD = timedelta(days=60)  # how far ahead an event is looked for when the reminder is set
# A reminder this close to its event's time is sent as it is (a move of seconds is no move).
SAME_TIME = timedelta(minutes=1)
SEND, MOVED, CANCELLED = "send", "moved", "cancelled"


def anchor_of(event: CalendarEvent, anchor: str, offset: int, *, each: str | None = None) -> dict[str, Any]:
    """What ``reminders.calendar`` keeps of the event; `each` (words, "" for every event) makes it follow
    each such event, this one first."""
    kept: dict[str, Any] = {"event_id": event.id, "title": event.title, "anchor": anchor, "offset": offset}
    if each is not None:
        kept["each"] = each
    return kept


def anchored_time(event: CalendarEvent, anchor: str, offset: int) -> datetime:
    """The event's start or end plus `offset` minutes (aware)."""
    return (event.end if anchor == "end" else event.start) + timedelta(minutes=offset)


def describe(calendar: dict[str, Any]) -> str:
    """ "10 minutes before “Dentist” starts", "when “Maths exam” ends"."""
    title, anchor, offset = calendar.get("title", "the event"), calendar.get("anchor", "start"), calendar["offset"]
    edge = "ends" if anchor == "end" else "starts"
    if "each" in calendar:
        which = f"each “{calendar['each']}” event" if calendar["each"] else "each event"
        when = "when" if offset == 0 else f"{abs(offset)} minutes {'after' if offset > 0 else 'before'}"
        return f"{when} {which} {edge}, first “{title}”"
    if offset == 0:
        return f"when “{title}” {edge}"
    return f"{abs(offset)} minutes {'after' if offset > 0 else 'before'} “{title}” {edge}"


@dataclass(frozen=True)
class Verdict:
    """What to do with an anchored reminder now: send it, it moved (to `local`), or its event is gone."""

    action: str
    local: datetime | None = None
    calendar: dict[str, Any] | None = None  # an "each" reminder's next event, when it changes


class CalendarAnchors:
    """Finds events for new anchored reminders and keeps anchored reminders on their events' times."""

    def __init__(self, calendar: CalendarClient, store: ReminderStore, *, clock: Clock) -> None:
        self.calendar = calendar
        self.store = store
        self.clock = clock
        self._refreshed: datetime | None = None

    async def find(self, user_id: int, timezone: str, words: str) -> list[CalendarEvent]:
        """Timed events of the next :data:`FIND_AHEAD` whose title holds every word of `words`, soonest first."""
        now = self.clock()
        events = await self.calendar.list_events(user_id, start=now, end=now + FIND_AHEAD, timezone=timezone, limit=250)
        wanted = words.lower().split()
        return [e for e in events if not e.all_day and all(w in e.title.lower() for w in wanted)]

    async def verdict(self, reminder: ReminderRecord, kept: datetime | None) -> Verdict:
        """Look the event up again: send at the time `kept`, move to the event's new time, or cancel."""
        calendar = reminder.calendar or {}
        if "each" in calendar:
            return await self._each(reminder, kept)
        try:
            event = await self.calendar.get_event(reminder.user_id, calendar["event_id"], timezone=reminder.timezone)
        except Exception as exc:  # noqa: BLE001 - Google away or the token refused: the known time stands
            if getattr(exc, "status", 0) in (404, 410):
                return Verdict(CANCELLED)
            log.warning("reminder %s: could not look up its calendar event: %s", reminder.id, exc)
            return Verdict(SEND)
        if event.cancelled:
            return Verdict(CANCELLED)
        due = anchored_time(event, calendar.get("anchor", "start"), int(calendar.get("offset", 0)))
        if kept is not None and abs(due - kept) < SAME_TIME:
            return Verdict(SEND)
        return Verdict(MOVED, to_local(due, reminder.zone).replace(second=0, microsecond=0))

    async def _each(self, reminder: ReminderRecord, kept: datetime | None) -> Verdict:
        """An "each" reminder's event first: send at `kept` when it is still there (even ended meanwhile), follow
        it when it moved earlier; gone or moved later, the first such event after `kept`."""
        calendar = reminder.calendar or {}
        if kept is not None and calendar.get("event_id"):
            try:
                event = await self.calendar.get_event(
                    reminder.user_id, calendar["event_id"], timezone=reminder.timezone
                )
            except Exception as exc:  # noqa: BLE001 - Google away or the token refused: the known time stands
                if getattr(exc, "status", 0) not in (404, 410):
                    log.warning("reminder %s: could not look up its calendar event: %s", reminder.id, exc)
                    return Verdict(SEND)
                event = None
            if event is not None and not event.cancelled:
                due = anchored_time(event, calendar.get("anchor", "start"), int(calendar.get("offset", 0)))
                if abs(due - kept) < SAME_TIME:
                    return Verdict(SEND)
                if due < kept:
                    return Verdict(MOVED, self._local(reminder, due))
        return await self.next_of(reminder, after=(kept or self.clock()) - SAME_TIME, kept=kept)

    async def next_of(self, reminder: ReminderRecord, *, after: datetime, kept: datetime | None = None) -> Verdict:
        """An "each" reminder's next event whose anchored time is after `after`: send when that is the time
        `kept`, else move there; with none in sight, look again :data:`PARK` later."""
        calendar = reminder.calendar or {}
        anchor, offset = calendar.get("anchor", "start"), int(calendar.get("offset", 0))
        try:
            events = await self.find(reminder.user_id, reminder.timezone, str(calendar.get("each", "")))
        except Exception as exc:  # noqa: BLE001 - Google away or the token refused: the known time stands
            log.warning("reminder %s: could not look up its calendar events: %s", reminder.id, exc)
            return Verdict(SEND) if kept is not None else self._park(reminder)
        upcoming = [e for e in events if anchored_time(e, anchor, offset) > after]
        if not upcoming:
            return self._park(reminder)
        due = anchored_time(upcoming[0], anchor, offset)
        if kept is not None and abs(due - kept) < SAME_TIME:
            return Verdict(SEND)
        moved = {**calendar, "event_id": upcoming[0].id, "title": upcoming[0].title}
        return Verdict(MOVED, self._local(reminder, due), moved)

    def _park(self, reminder: ReminderRecord) -> Verdict:
        """No event in sight: look again a day later, on no event (the last one was sent for, it is not followed)."""
        return Verdict(MOVED, self._local(reminder, self.clock() + PARK), {**(reminder.calendar or {}), "event_id": ""})

    @staticmethod
    def _local(reminder: ReminderRecord, moment: datetime) -> datetime:
        return to_local(moment, reminder.zone).replace(second=0, microsecond=0)

    async def move(self, reminder: ReminderRecord, verdict: Verdict) -> None:
        """Move the reminder to its event's new time (or an "each" reminder to its next event), active again."""
        assert verdict.local is not None
        log.info("reminder %s follows its event to %s", reminder.id, verdict.local)
        await self.store.move(reminder.id, verdict.local, calendar=verdict.calendar)

    async def sent(self, reminder: ReminderRecord, scheduled_at: datetime) -> None:
        """After an "each" reminder went out for one event: on to the next one still to come (the events it missed
        while the assistant was offline are covered by the late one just sent)."""
        if "each" in (reminder.calendar or {}):
            after = max(scheduled_at + SAME_TIME, self.clock())
            await self.move(reminder, await self.next_of(reminder, after=after))

    async def follow(self, reminder: ReminderRecord) -> Verdict:
        """Apply the verdict to the stored reminder (move it, or cancel it); returns it."""
        verdict = await self.verdict(reminder, reminder.next_due)
        if verdict.action == MOVED and verdict.local is not None:
            await self.move(reminder, verdict)
        elif verdict.action == CANCELLED:
            log.info("reminder %s: its event was cancelled; the reminder is cancelled too", reminder.id)
            await self.store.cancel(reminder.user_id, reminder.id)
        return verdict

    async def refresh(self) -> int:
        """At most every :data:`REFRESH`: follow the events of the anchored reminders due within a day.
        Returns how many moved or were cancelled."""
        now = self.clock()
        if self._refreshed is not None and now - self._refreshed < REFRESH:
            return 0
        self._refreshed = now
        changed = 0
        for reminder in await self.store.anchored(now + LOOK_AHEAD):
            changed += (await self.follow(reminder)).action != SEND
        return changed
