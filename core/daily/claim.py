"""Exactly-once work per user and day, decided by the database, never by a scheduler's memory.

The day's row, unique per (user, day), is held through the shared lease mechanism
(core/db/claims.py, which reminders use too): one statement makes the row, or takes
it over when its holder went silent past the lease or gave it back, and only one
process wins it. Every finished step renews the lease, and a heartbeat renews it
while a step runs (every :data:`HEARTBEAT`). The lease is short (:data:`LEASE`):
when a process dies its renewals stop, the lease runs out within a minute, and
another process (or the same bot restarted, whose new process has a new name)
takes the row over and resumes after the last finished step. ``attempts`` is the
fencing token: a process that lost its lease (it stalled, it was not dead) can no
longer write its steps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from core.db.claims import Leases
from core.db.database import Database
from core.db.models_daily import DailyLog

log = logging.getLogger(__name__)

# The steps in order; a row only moves forward.
STEPS = ("claimed", "summarised", "rendered", "uploaded", "posted")
# The error of a day given back by a bot that was stopping (not a failure): such a day may
# always be taken again, so stopping the bot, however often, never uses up its attempts.
GIVEN_BACK = "the bot stopped while working on it"
FAILED = "failed"
FINISHED = ("posted", FAILED)
# How long a silent claim stays its holder's, and how often a working holder renews it:
# a successor takes over a crashed process's day within LEASE (plus one scheduler tick).
LEASE = timedelta(seconds=45)
HEARTBEAT = timedelta(seconds=15)
REMAKE = " remake"  # the end of ``claimed_by`` while a day is being made again (core/daily/remake.py)
_FIELDS = frozenset({"summary", "drive_file_id", "drive_link", "last_error"})
_TABLE = DailyLog.__table__


@dataclass(frozen=True)
class DailyLogRecord:
    """A snapshot of one ``daily_logs`` row."""

    id: int
    user_id: int
    day: date
    state: str
    summary: str | None
    drive_file_id: str | None
    drive_link: str | None
    attempts: int
    last_error: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    updated_at: datetime

    @property
    def finished(self) -> bool:
        """Posted or given up: nothing is left to do."""
        return self.state in FINISHED

    def done(self, step: str) -> bool:
        """Whether `step` (one of STEPS) is already behind this row, so a resumed run skips it."""
        return self.state != FAILED and STEPS.index(self.state) >= STEPS.index(step)


def _record(row: dict[str, Any]) -> DailyLogRecord:
    return DailyLogRecord(**{name: row[name] for name in DailyLogRecord.__dataclass_fields__})


def _new(user_id: int, day: date, now: datetime) -> dict[str, Any]:
    """The columns of a day's row when it is first claimed (the lease columns are the claim's)."""
    return {"user_id": user_id, "day": day, "state": STEPS[0], "updated_at": now}


def _known(fields: dict[str, str | None]) -> None:
    unknown = set(fields) - _FIELDS
    if unknown:
        raise TypeError(f"daily_logs has no field {sorted(unknown)[0]!r} to set")


class DailyLogRepository:
    """Claims, takes over and advances daily-log rows on behalf of one worker (one process)."""

    def __init__(self, database: Database, *, worker: str, lease: timedelta = LEASE) -> None:
        """`worker` names this process in `claimed_by`; `lease` is how long a silent claim stays its own."""
        self._db = database
        self._leases = Leases(database, _TABLE, key=("user_id", "day"), worker=worker, lease=lease)
        self.worker = worker
        self.lease = lease

    def _resumable(self, now: datetime, max_attempts: int) -> ColumnElement[bool]:
        """Unfinished, not out of attempts (a day given back by a stop never is), and nobody holds it."""
        return and_(
            _TABLE.c.state.not_in(FINISHED),
            or_(_TABLE.c.attempts < max_attempts, _TABLE.c.last_error == GIVEN_BACK),
            self._leases.free(now),
        )

    async def claim(self, user_id: int, day: date, now: datetime) -> DailyLogRecord | None:
        """Create and hold the row for (`user_id`, `day`); None when it already exists (whoever holds it)."""
        row = await self._leases.claim(_new(user_id, day, now), now)
        if row is not None:
            log.info("daily log: %s claimed user %s day %s", self.worker, user_id, day)
        return _record(row) if row is not None else None

    async def take_over(
        self, user_id: int, day: date, now: datetime, *, max_attempts: int = 5
    ) -> DailyLogRecord | None:
        """Take an unfinished row whose holder went silent for longer than the lease, or released it.

        Returns the row (with its last finished step, to resume from) or None when it is
        finished, held by a live worker, or out of attempts.
        """
        mine = and_(_TABLE.c.user_id == user_id, _TABLE.c.day == day, self._resumable(now, max_attempts))
        return self._taken(await self._leases.take_over(mine, now, updated_at=now))

    async def acquire(self, user_id: int, day: date, now: datetime, *, max_attempts: int = 5) -> DailyLogRecord | None:
        """Claim the day, or take it over when its holder is gone (one statement); None when someone else has it
        or it is done."""
        row = await self._leases.claim(
            _new(user_id, day, now), now, again=self._resumable(now, max_attempts), refresh=("updated_at",)
        )
        if row is not None and row["attempts"] == 1:
            log.info("daily log: %s claimed user %s day %s", self.worker, user_id, day)
            return _record(row)
        return self._taken(row)

    def _taken(self, row: dict[str, Any] | None) -> DailyLogRecord | None:
        if row is None:
            return None
        log.warning("daily log: %s took over user %s day %s at step %s (attempt %s)",
                    self.worker, row["user_id"], row["day"], row["state"], row["attempts"])  # fmt: skip
        return _record(row)

    async def advance(self, log_id: int, state: str, *, attempt: int, now: datetime, **fields: str | None) -> bool:
        """Record that step `state` is done (with its results in `fields`) and renew the lease.

        `attempt` is the held record's `attempts`. Returns False, writing nothing, when this
        worker no longer holds the row (its lease was taken over) or the row is already past `state`.
        """
        if state not in STEPS[1:] and state != FAILED:
            raise ValueError(f"unknown daily-log state {state!r}")
        _known(fields)
        earlier = STEPS[:-1] if state == FAILED else STEPS[: STEPS.index(state)]
        moved = await self._leases.renew(
            log_id, attempt, now, _TABLE.c.state.in_(earlier), state=state, updated_at=now, **fields
        )
        if not moved:
            log.warning("daily log %s: %s may not move it to %s (lease lost or step done)", log_id, self.worker, state)
        return moved

    async def renew(self, log_id: int, *, attempt: int, now: datetime) -> bool:
        """Keep the lease during a long step; False when it was already taken over."""
        return await self._leases.renew(log_id, attempt, now, updated_at=now)

    async def release(self, log_id: int, *, attempt: int, now: datetime, error: str) -> bool:
        """Give the row up after a failed step, keeping what was done, so the next pass retries at once."""
        return await self._leases.release(log_id, attempt, now, last_error=error[:2000], updated_at=now)

    async def hold(self, log_id: int, now: datetime) -> bool:
        """Take the row for a remake (nobody holds it, or its holder is gone), keeping its state; False when
        someone holds it. Renew with :meth:`renew`, give it back with :meth:`remade` or :meth:`release`."""
        # A finished day keeps the claim of the run that posted it: only a remake's own hold blocks another.
        free = or_(
            self._leases.free(now),
            and_(_TABLE.c.state.in_(FINISHED), _TABLE.c.claimed_by.not_like(f"%{REMAKE}")),
        )
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == log_id, free)
            .values(claimed_by=self.worker + REMAKE, claimed_at=now, updated_at=now)
        )
        async with self._db.session() as session, session.begin():
            return (await session.execute(statement)).rowcount == 1

    async def remade(self, log_id: int, *, attempt: int, now: datetime, **fields: str | None) -> bool:
        """Store a held row's new outputs (summary, Drive file) and give it back; False when the hold was lost."""
        _known(fields)
        mine = _TABLE.c.claimed_by == self.worker + REMAKE
        return await self._leases.release(log_id, attempt, now, mine, updated_at=now, **fields)

    async def get(self, user_id: int, day: date) -> DailyLogRecord | None:
        """The row of (`user_id`, `day`), if any."""
        async with self._db.session() as session:
            row = (
                await session.execute(select(*_TABLE.c).where(_TABLE.c.user_id == user_id, _TABLE.c.day == day))
            ).first()
        return _record(dict(row._mapping)) if row is not None else None

    async def resumable(self, now: datetime, *, since: date, max_attempts: int = 5) -> list[DailyLogRecord]:
        """Unfinished rows from `since` on whose lease ran out or was released: the catch-up list at start."""
        statement = (
            select(*_TABLE.c)
            .where(_TABLE.c.day >= since, self._resumable(now, max_attempts))
            .order_by(_TABLE.c.day, _TABLE.c.id)
        )
        async with self._db.session() as session:
            return [_record(dict(row._mapping)) for row in (await session.execute(statement)).all()]
