"""What a person can do to their own reminders: list, cancel, pause, resume, snooze, done, edit.

One place for ``/reminders`` (core/reminders/commands.py) and the web app (bot/webapp/reminders.py):
each change is looked up among the person's own reminders (another's is None, as one that does not
exist) and wakes the scheduler, so a change is followed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.reminders.buttons import snooze_until
from core.reminders.store import ReminderRecord, ReminderStore
from core.reminders.times import Schedule, TimeRefused, parse_local, wall
from core.timefmt import is_valid_zone

Change = Literal["cancel", "pause", "resume"]
CHANGES: tuple[Change, ...] = ("cancel", "pause", "resume")


class ReminderActions:
    """The person's reminders and the changes they may make; `changed` wakes the scheduler after a change."""

    def __init__(self, store: ReminderStore, *, clock: Clock, changed: Callable[[], None]) -> None:
        self._store = store
        self.clock = clock
        self._changed = changed

    async def mine(self, user_id: int) -> list[ReminderRecord]:
        """The person's open reminders (active and paused), the next due first."""
        return await self._store.of_user(user_id)

    async def get(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        """One of the person's reminders (None when it is another's or does not exist)."""
        return await self._store.get(reminder_id, user_id=user_id)

    async def change(self, user_id: int, reminder_id: int, change: Change) -> ReminderRecord | None:
        """Cancel, pause or resume one; None when the person has no such reminder in a state that allows it."""
        operations = {"cancel": self._store.cancel, "pause": self._store.pause, "resume": self._store.resume}
        done = await operations[change](user_id, reminder_id)
        if done is not None:
            self._changed()
        return done

    async def done(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        """The person says it is done (a recurring one goes on); None when it is not theirs."""
        done = await self._store.done(user_id, reminder_id)
        if done is not None:
            self._changed()
        return done

    async def snooze(self, user_id: int, reminder_id: int, choice: str = "20m") -> ReminderRecord | None:
        """Bring it back after `choice` ("20m", "1h", "morning", "2 hours"): the moved reminder (a recurring one
        gets a one-off copy). None when the person has no such reminder or it cannot be snoozed any more;
        raises :class:`core.reminders.times.TimeRefused` for words it cannot read or a time it refuses."""
        current = await self._store.get(reminder_id, user_id=user_id)
        if current is None:
            return None
        until = snooze_until(choice or "20m", self.clock(), current.zone)
        made = await self._store.snooze(user_id, reminder_id, until)
        if made is not None:
            self._changed()
        return made

    async def edit(
        self,
        user_id: int,
        reminder_id: int,
        *,
        text: str = "",
        at: str = "",
        recurrence: str = "",
        timezone: str = "",
    ) -> ReminderRecord | None:
        """Change one's text and/or time (`at`, a local date-time), repetition (an RRULE, or "none") or zone;
        what is left empty stays. None when the person has no such open reminder; raises
        :class:`TimeRefused` for a time it cannot read or refuses (past, too often, an unknown zone)."""
        current = await self._store.get(reminder_id, user_id=user_id)
        if current is None:
            return None
        schedule = new_schedule(current, at=at, recurrence=recurrence, timezone=timezone)
        made = await self._store.edit(user_id, reminder_id, text=text or None, schedule=schedule,
                                      zone_fixed=True if timezone else None)  # fmt: skip
        if made is not None:
            self._changed()
        return made


def new_schedule(current: ReminderRecord, *, at: str = "", recurrence: str = "", timezone: str = "") -> Schedule | None:
    """The reminder's time with what was given changed (None: its time stays): a new local start, an RRULE
    or "none" (once from now on), another IANA zone. Raises :class:`TimeRefused` for what it cannot read."""
    if not (at or recurrence or timezone):
        return None
    if timezone and not is_valid_zone(timezone):
        raise TimeRefused(f"{timezone!r} is not an IANA time zone such as 'Europe/Lisbon'.")
    zone = ZoneInfo(timezone) if timezone else current.zone
    rule = None if recurrence.lower() == "none" else (recurrence or current.rrule)
    # Without a new time the series goes on from its next time (its first one may long have passed).
    start = parse_local(at) if at else wall(current.next_local) if current.next_local else current.schedule.start
    return Schedule(start, zone, rule)
