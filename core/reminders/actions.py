"""What a person can do to their own reminders: list, cancel, pause, resume, snooze, done.

One place for ``/reminders`` (core/reminders/commands.py) and the web app (bot/webapp/reminders.py):
each change is looked up among the person's own reminders (another's is None, as one that does not
exist) and wakes the scheduler, so a change is followed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from core.clock import Clock
from core.reminders.buttons import snooze_until
from core.reminders.store import ReminderRecord, ReminderStore

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
