"""The reminders of each person: set, list, cancel, pause, resume, snooze, and follow a change of zone.

Operations return :class:`ReminderRecord` snapshots (data, not sentences); the tools and
the ``/reminders`` command phrase them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, null, select, update

from core.clock import Clock
from core.db.database import Database
from core.db.models import User
from core.db.models_reminders import Reminder, ReminderOccurrence
from core.reminders.times import Schedule, TimeRefused, to_local, to_utc, wall, wall_text

log = logging.getLogger(__name__)

ACTIVE, PAUSED, DONE, CANCELLED, UNDELIVERABLE = "active", "paused", "done", "cancelled", "undeliverable"
OPEN = (ACTIVE, PAUSED)
REMINDER, FOLLOW_UPS = "reminder", "follow_ups"  # a person's reminder; the morning offer of a day's open items
_TABLE = Reminder.__table__


@dataclass(frozen=True)
class ReminderRecord:
    """A snapshot of one reminder."""

    id: int
    user_id: int
    conversation_id: int | None
    platform: str
    text: str
    local_start: str
    timezone: str
    zone_fixed: bool
    rrule: str | None
    state: str
    next_due: datetime | None
    next_local: str | None
    kind: str = REMINDER
    items: list[str] | None = None
    calendar: dict[str, Any] | None = None  # the event it follows (see core.reminders.calendar)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def schedule(self) -> Schedule:
        return Schedule(wall(self.local_start), self.zone, self.rrule)


def record_of(row: Any) -> ReminderRecord:
    """A row of ``reminders`` as a record."""
    return ReminderRecord(**{name: row._mapping[name] for name in ReminderRecord.__dataclass_fields__})


class LimitReached(TimeRefused):
    """The person has as many open reminders as allowed."""


class ReminderStore:
    """Reads and changes reminders; every change recomputes ``next_due`` from the wall time and zone."""

    def __init__(self, database: Database, *, clock: Clock, max_active: int = 100) -> None:
        self._db = database
        self.clock = clock
        self.max_active = max_active

    async def create(
        self,
        *,
        user_id: int,
        text: str,
        schedule: Schedule,
        platform: str,
        conversation_id: int | None = None,
        zone_fixed: bool = False,
        calendar: dict[str, Any] | None = None,
    ) -> ReminderRecord:
        """A new active reminder; raises :class:`TimeRefused` (past, too far, too often) or :class:`LimitReached`."""
        now = self.clock()
        first = schedule.check(now)
        values = {"user_id": user_id, "conversation_id": conversation_id, "platform": platform,
                  "text": text.strip()[:2000], "local_start": wall_text(schedule.start),
                  "timezone": schedule.zone.key, "zone_fixed": zone_fixed, "rrule": schedule.rule,
                  "state": ACTIVE, "next_due": to_utc(first, schedule.zone), "next_local": wall_text(first),
                  "created_at": now, "updated_at": now}  # fmt: skip
        if calendar is not None:  # left out otherwise: SQL NULL, not JSON null, for the index of anchored ones
            values["calendar"] = calendar
        async with self._db.session() as session, session.begin():
            count = await session.scalar(
                select(func.count())
                .select_from(_TABLE)
                .where(_TABLE.c.user_id == user_id, _TABLE.c.state.in_(OPEN), _TABLE.c.kind == REMINDER)
            )
            if self.max_active == 0:
                raise LimitReached(
                    "reminders are turned off on this assistant (REMINDERS_PER_USER is 0), so I can't set one."
                )
            if (count or 0) >= self.max_active:
                raise LimitReached(
                    f"you already have {count} reminders, the most I keep for one person; cancel one first."
                )
            row = (await session.execute(insert(_TABLE).values(**values).returning(*_TABLE.c))).one()
        log.info(
            "reminder %s set for user %s, first at %s %s", row.id, user_id, values["next_local"], schedule.zone.key
        )
        return record_of(row)

    async def of_user(self, user_id: int, *, states: tuple[str, ...] = OPEN) -> list[ReminderRecord]:
        """The person's reminders in `states`, the next due first (paused ones last)."""
        statement = (
            select(*_TABLE.c)
            .where(_TABLE.c.user_id == user_id, _TABLE.c.state.in_(states), _TABLE.c.kind == REMINDER)
            .order_by(_TABLE.c.state, _TABLE.c.next_due, _TABLE.c.id)
        )
        async with self._db.session() as session:
            return [record_of(row) for row in (await session.execute(statement)).all()]

    async def get(self, reminder_id: int, *, user_id: int | None = None) -> ReminderRecord | None:
        """One reminder (only the person's own when `user_id` is given)."""
        statement = select(*_TABLE.c).where(_TABLE.c.id == reminder_id)
        if user_id is not None:
            statement = statement.where(_TABLE.c.user_id == user_id)
        async with self._db.session() as session:
            row = (await session.execute(statement)).first()
        return record_of(row) if row is not None else None

    async def last_sent(self, user_id: int) -> ReminderRecord | None:
        """The reminder whose occurrence was delivered to the person most recently (what "snooze" means)."""
        occurrences = ReminderOccurrence.__table__
        statement = (
            select(*_TABLE.c)
            .join(occurrences, occurrences.c.reminder_id == _TABLE.c.id)
            .where(occurrences.c.user_id == user_id, occurrences.c.state == "delivered", _TABLE.c.kind == REMINDER)
            .order_by(occurrences.c.delivered_at.desc(), occurrences.c.id.desc())
            .limit(1)
        )
        async with self._db.session() as session:
            row = (await session.execute(statement)).first()
        return record_of(row) if row is not None else None

    async def _set(
        self, reminder_id: int, user_id: int, allowed: tuple[str, ...], **values: Any
    ) -> ReminderRecord | None:
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == reminder_id, _TABLE.c.user_id == user_id, _TABLE.c.state.in_(allowed))
            .values(updated_at=self.clock(), **values)
            .returning(*_TABLE.c)
        )
        async with self._db.session() as session, session.begin():
            row = (await session.execute(statement)).first()
        return record_of(row) if row is not None else None

    async def cancel(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        """Cancel an open reminder; None when the person has no such open reminder."""
        return await self._set(reminder_id, user_id, OPEN, state=CANCELLED, next_due=None)

    async def pause(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        """Pause an active reminder: nothing is sent, and nothing piles up, until it is resumed."""
        return await self._set(reminder_id, user_id, (ACTIVE,), state=PAUSED, next_due=None)

    async def resume(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        """Resume a paused reminder from its next time after now (times missed while paused are skipped)."""
        current = await self.get(reminder_id, user_id=user_id)
        if current is None or current.state != PAUSED:
            return None
        upcoming = current.schedule.after(to_local(self.clock(), current.zone))
        if upcoming is None:
            return await self._set(reminder_id, user_id, (PAUSED,), state=DONE, next_due=None)
        return await self._set(
            reminder_id, user_id, (PAUSED,), state=ACTIVE,
            next_due=to_utc(upcoming, current.zone), next_local=wall_text(upcoming),
        )  # fmt: skip

    async def done(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        """The person says it is done: a one-off still open (snoozed, say) stops; a recurring one goes on."""
        current = await self.get(reminder_id, user_id=user_id)
        if current is None or current.rrule is not None or current.state not in OPEN:
            return current
        return await self._set(reminder_id, user_id, OPEN, state=DONE, next_due=None)

    async def snooze(self, user_id: int, reminder_id: int, until: datetime) -> ReminderRecord | None:
        """Bring a reminder back at `until`: a one-off is moved; a recurring one gets a one-off copy."""
        current = await self.get(reminder_id, user_id=user_id)
        if current is None:
            return None
        local = to_local(until, current.zone).replace(second=0, microsecond=0)
        if current.rrule is None:
            Schedule(local, current.zone).check(self.clock())
            return await self._set(
                reminder_id, user_id, (ACTIVE, PAUSED, DONE), state=ACTIVE, local_start=wall_text(local),
                next_due=to_utc(local, current.zone), next_local=wall_text(local),
            )  # fmt: skip
        return await self.create(
            user_id=user_id, text=current.text, schedule=Schedule(local, current.zone), platform=current.platform,
            conversation_id=current.conversation_id, zone_fixed=current.zone_fixed,
        )  # fmt: skip

    async def edit(
        self,
        user_id: int,
        reminder_id: int,
        *,
        text: str | None = None,
        schedule: Schedule | None = None,
        zone_fixed: bool | None = None,
    ) -> ReminderRecord | None:
        """Change an open reminder's text and/or its time (a new start, zone and recurrence); None when the
        person has no such open reminder. A new time is checked as a new reminder's is (raises
        :class:`TimeRefused`); it no longer follows a calendar event; a paused reminder stays paused."""
        current = await self.get(reminder_id, user_id=user_id)
        if current is None or current.state not in OPEN:
            return None
        values: dict[str, Any] = {}
        if text is not None and text.strip():
            values["text"] = text.strip()[:2000]
        if schedule is not None:
            first = schedule.check(self.clock())
            values.update(local_start=wall_text(schedule.start), timezone=schedule.zone.key, rrule=schedule.rule,
                          next_local=wall_text(first), calendar=null(),
                          next_due=to_utc(first, schedule.zone) if current.state == ACTIVE else None)  # fmt: skip
            if zone_fixed is not None:
                values["zone_fixed"] = zone_fixed
        if not values:
            return current
        return await self._set(reminder_id, user_id, (current.state,), **values)  # a pause or resume meanwhile: none

    async def move(
        self, reminder_id: int, local: datetime, *, calendar: dict[str, Any] | None = None
    ) -> ReminderRecord | None:
        """Move a one-off to wall time `local` (its event moved; with `calendar`, now another event's) and make
        it active again."""
        current = await self.get(reminder_id)
        if current is None or current.state not in (ACTIVE, DONE):
            return None
        extra = {"calendar": calendar} if calendar is not None else {}
        return await self._set(
            reminder_id, current.user_id, (ACTIVE, DONE), state=ACTIVE, local_start=wall_text(local),
            next_due=to_utc(local, current.zone), next_local=wall_text(local), **extra,
        )  # fmt: skip

    async def anchored(self, before: datetime, *, limit: int = 200) -> list[ReminderRecord]:
        """Active reminders that follow a calendar event, due before `before` (the next ones first)."""
        statement = (
            select(*_TABLE.c)
            .where(_TABLE.c.state == ACTIVE, _TABLE.c.calendar.is_not(None), _TABLE.c.next_due <= before)
            .order_by(_TABLE.c.next_due)
            .limit(limit)
        )
        async with self._db.session() as session:
            return [record_of(row) for row in (await session.execute(statement)).all()]

    async def follow_zones(self) -> int:
        """Move the reminders that follow their person's zone to that zone when it changed: the same wall
        time in the new zone. Returns how many moved."""
        users = User.__table__
        statement = (
            select(*_TABLE.c, users.c.timezone.label("user_zone"))
            .join(users, users.c.id == _TABLE.c.user_id)
            .where(
                _TABLE.c.state.in_(OPEN),
                _TABLE.c.zone_fixed.is_(False),
                users.c.timezone.is_not(None),
                users.c.timezone != _TABLE.c.timezone,
            )
        )
        moved = 0
        async with self._db.session() as session, session.begin():
            for row in (await session.execute(statement)).all():
                try:
                    zone = ZoneInfo(row.user_zone)
                except (KeyError, ValueError):
                    continue
                values: dict[str, Any] = {"timezone": zone.key, "updated_at": self.clock()}
                if row.next_local is not None and row.state == ACTIVE:
                    values["next_due"] = to_utc(wall(row.next_local), zone)
                done = await session.execute(
                    update(_TABLE)
                    .where(and_(_TABLE.c.id == row.id, _TABLE.c.timezone == row.timezone))
                    .values(**values)
                )
                moved += done.rowcount
                log.info("reminder %s follows user %s to %s", row.id, row.user_id, zone.key)
        return moved

    async def next_wake(self, platforms: tuple[str, ...] | None = None) -> datetime | None:
        """The earliest ``next_due`` of an active reminder (one index lookup)."""
        statement = select(func.min(_TABLE.c.next_due)).where(_TABLE.c.state == ACTIVE)
        if platforms is not None:
            statement = statement.where(_TABLE.c.platform.in_(platforms))
        async with self._db.session() as session:
            return await session.scalar(statement)

    async def due(self, now: datetime, *, limit: int = 200, platforms: tuple[str, ...] | None = None) -> list[int]:
        """Ids of active reminders due at `now`, oldest first (an index range, at most `limit`)."""
        statement = (
            select(_TABLE.c.id)
            .where(_TABLE.c.state == ACTIVE, _TABLE.c.next_due <= now)
            .order_by(_TABLE.c.next_due)
            .limit(limit)
        )
        if platforms is not None:
            statement = statement.where(_TABLE.c.platform.in_(platforms))
        async with self._db.session() as session:
            return list((await session.execute(statement)).scalars())
