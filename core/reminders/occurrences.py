"""Each due time of a reminder claimed by one process and recorded when delivered, through the lease
mechanism the daily log uses too (core/db/claims.py).

The claim is one transaction: a conditional UPDATE moves the reminder's ``next_due``
past now (only the process that saw the old value wins it; missed times of a
recurring reminder collapse into the last one) and the lease's claim makes the
occurrence row, unique per (reminder, scheduled time). An occurrence that exists
already is only taken again when it was given up because its calendar event moved
away (the event came back to that time): one that was sent, or is being sent, never is.
The winner holds a lease (``claimed_by``, ``claimed_at``); a process that dies leaves
the row ``claimed`` or ``sending`` and another takes it over once the lease ran
out, bumping ``attempts``, the fencing token every later write checks. The send
itself goes through `core.speak` under the occurrence's idempotency key, so a
take-over after a crash finds what was posted instead of posting it again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection

from core.db.claims import LeaseLost, Leases
from core.db.database import Database
from core.db.models_reminders import ReminderOccurrence
from core.reminders.store import _TABLE as REMINDERS
from core.reminders.store import ACTIVE, DONE, ReminderRecord, record_of
from core.reminders.times import to_local, to_utc, wall, wall_text
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

CLAIMED, SENDING, DELIVERED, FAILED, UNDELIVERABLE = "claimed", "sending", "delivered", "failed", "undeliverable"
MOVED = "moved"  # given up because its calendar event moved away; claimed again if the event comes back
PENDING = (CLAIMED, SENDING)
LEASE = timedelta(seconds=45)
MAX_ATTEMPTS = 5
_TABLE = ReminderOccurrence.__table__


@dataclass(frozen=True)
class Occurrence:
    """A held occurrence: its row, and the reminder it belongs to."""

    id: int
    reminder: ReminderRecord
    scheduled_at: datetime
    local_time: str
    missed: int
    state: str
    attempts: int
    idempotency_key: str
    account: PlatformIdentity | None
    started_at: datetime | None


def _account(value: dict[str, Any] | None) -> PlatformIdentity | None:
    return PlatformIdentity(value["platform"], value["workspace"], value["user_id"]) if value else None


class OccurrenceRepository:
    """Claims, takes over and records the occurrences of reminders for one worker (one process)."""

    def __init__(self, database: Database, *, worker: str, lease: timedelta = LEASE) -> None:
        self._db = database
        self._leases = Leases(database, _TABLE, key=("reminder_id", "scheduled_at"), worker=worker, lease=lease)
        self.worker = worker
        self.lease = lease

    def _occurrence(self, row: dict[str, Any], reminder: ReminderRecord) -> Occurrence:
        return Occurrence(row["id"], reminder, row["scheduled_at"], row["local_time"], row["missed"], row["state"],
                          row["attempts"], row["idempotency_key"], _account(row["account"]), row["started_at"])  # fmt: skip

    async def claim(self, reminder_id: int, now: datetime) -> Occurrence | None:
        """Win the reminder's due time, moving its ``next_due`` on; None when it is not due or another process won."""
        won = await self.claim_many([reminder_id], now)
        return won[0] if won else None

    async def claim_many(self, reminder_ids: Sequence[int], now: datetime) -> list[Occurrence]:
        """Claim the due times of several reminders in one transaction: the ones this process won.

        On PostgreSQL the rows are locked with ``SKIP LOCKED``, so processes claiming at once split
        the batch instead of waiting on each other; everywhere, each UPDATE still requires the
        ``next_due`` it read, so a row another process moved meanwhile is left to it.
        """
        query = select(*REMINDERS.c).where(
            REMINDERS.c.id.in_(list(reminder_ids)), REMINDERS.c.state == ACTIVE, REMINDERS.c.next_due <= now
        )
        if self._db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        query = query.order_by(REMINDERS.c.next_due)

        def claim(connection: Connection) -> list[Occurrence]:
            rows = connection.execute(query).all()
            return [held for row in rows if (held := self._claim_row(connection, row, now)) is not None]

        # One transaction through the writer (on SQLite it holds the write lock from its start).
        won = await self._db.write(claim)
        for held in won:
            log.info("reminder %s: %s claimed the occurrence of %s", held.reminder.id, self.worker, held.local_time)
        return won

    def _claim_row(self, connection: Connection, row: Any, now: datetime) -> Occurrence | None:
        reminder = record_of(row)
        schedule, zone = reminder.schedule, reminder.zone
        due_local, missed = schedule.due(now, since=wall(row.next_local))
        upcoming = schedule.after(max(due_local or wall(row.next_local), to_local(now, zone)))
        values: dict[str, Any] = {"updated_at": now}
        if upcoming is None:
            values.update(state=DONE, next_due=None, next_local=None)
        else:
            values.update(next_due=to_utc(upcoming, zone), next_local=wall_text(upcoming))
        moved = connection.execute(
            update(REMINDERS)
            .where(REMINDERS.c.id == row.id, REMINDERS.c.state == ACTIVE, REMINDERS.c.next_due == row.next_due)
            .values(**values)
        )
        if moved.rowcount != 1 or due_local is None:  # type: ignore[attr-defined]
            return None  # another process moved it first, or a zone change left nothing due yet
        values = {"reminder_id": row.id, "user_id": reminder.user_id, "scheduled_at": to_utc(due_local, zone),
                  "local_time": wall_text(due_local), "missed": missed, "state": CLAIMED,
                  "idempotency_key": secrets.token_hex(16), "message_ids": []}  # fmt: skip
        claiming = self._leases.claiming(
            values, now, again=_TABLE.c.state == MOVED, refresh=("state", "local_time", "missed")
        )
        made = connection.execute(claiming).first()
        return self._occurrence(dict(made._mapping), reminder) if made is not None else None

    async def stale(self, now: datetime, *, limit: int = 100, platforms: tuple[str, ...] | None = None) -> list[int]:
        """Occurrences left claimed or sending whose holder went silent past the lease (a crash, a stop);
        only those of reminders asked on `platforms` when given (the terminal chat's process)."""
        statement = (
            select(_TABLE.c.id)
            .where(_TABLE.c.state.in_(PENDING), self._leases.free(now))
            .order_by(_TABLE.c.claimed_at)
            .limit(limit)
        )
        if platforms is not None:
            statement = statement.join(REMINDERS, REMINDERS.c.id == _TABLE.c.reminder_id).where(
                REMINDERS.c.platform.in_(platforms)
            )
        async with self._db.session() as session:
            return list((await session.execute(statement)).scalars())

    async def next_stale(self, platforms: tuple[str, ...] | None = None) -> datetime | None:
        """When the oldest pending lease runs out (the scheduler wakes then too)."""
        statement = (
            select(_TABLE.c.claimed_at).where(_TABLE.c.state.in_(PENDING)).order_by(_TABLE.c.claimed_at).limit(1)
        )
        if platforms is not None:
            statement = statement.join(REMINDERS, REMINDERS.c.id == _TABLE.c.reminder_id).where(
                REMINDERS.c.platform.in_(platforms)
            )
        async with self._db.session() as session:
            oldest = await session.scalar(statement)
        return oldest + self.lease if oldest is not None else None

    async def take_over(self, occurrence_id: int, now: datetime) -> Occurrence | None:
        """Take a pending occurrence whose lease ran out; None when it is done or another process took it."""
        async with self._db.session() as session, session.begin():
            row = await self._leases.take_over(
                and_(_TABLE.c.id == occurrence_id, _TABLE.c.state.in_(PENDING)), now, session=session
            )
            if row is None:
                return None
            reminder = record_of(
                (await session.execute(select(*REMINDERS.c).where(REMINDERS.c.id == row["reminder_id"]))).one()
            )
        log.warning("reminder occurrence %s: %s took it over (attempt %s)", occurrence_id, self.worker, row["attempts"])
        return self._occurrence(row, reminder)

    def _pending(self) -> ColumnElement[bool]:
        return _TABLE.c.state.in_(PENDING)

    async def begin_send(self, held: Occurrence, account: PlatformIdentity, now: datetime) -> Occurrence:
        """Record that a send to `account` begins (renewing the lease); raises :class:`LeaseLost` when not ours."""
        started = held.started_at if held.account == account and held.started_at is not None else now
        to = {"platform": account.platform, "workspace": account.workspace, "user_id": account.user_id}
        if not await self._leases.renew(held.id, held.attempts, now, self._pending(), state=SENDING,
                                        started_at=started, account=to):  # fmt: skip
            raise LeaseLost(held.id)
        return Occurrence(held.id, held.reminder, held.scheduled_at, held.local_time, held.missed, SENDING,
                          held.attempts, held.idempotency_key, account, started)  # fmt: skip

    async def delivered(
        self, held: Occurrence, *, message_ids: tuple[str, ...], now: datetime, reminder_state: str | None = None
    ) -> bool:
        """Record the delivery (`core.speak` stored the message in the conversation's history)."""
        return await self._end(held, now, reminder_state, state=DELIVERED, delivered_at=now,
                               message_ids=list(message_ids))  # fmt: skip

    async def release(self, held: Occurrence, error: str, now: datetime) -> bool:
        """Give the occurrence back after a passing failure: it is tried again once the lease has run out."""
        return await self._leases.release(held.id, held.attempts, now, self._pending(), rest=True,
                                          last_error=error[:2000])  # fmt: skip

    async def give_up(
        self, held: Occurrence, state: str, error: str, now: datetime, *, reminder_state: str | None
    ) -> bool:
        """End the occurrence as failed, undeliverable or moved (never retried; a moved one is claimed again only
        if its event comes back to that time), and the reminder with it when asked."""
        return await self._end(held, now, reminder_state, state=state, last_error=error[:2000])

    async def _end(self, held: Occurrence, now: datetime, reminder_state: str | None, **values: Any) -> bool:
        ended = self._leases.renewal(held.id, held.attempts, now, self._pending(), **values)
        stopped = (
            update(REMINDERS).where(REMINDERS.c.id == held.reminder.id,
                                    or_(REMINDERS.c.state == ACTIVE, REMINDERS.c.state == DONE))
            .values(state=reminder_state, next_due=None, updated_at=now)
        )  # fmt: skip

        def end(connection: Connection) -> bool:
            if connection.execute(ended).rowcount != 1:  # type: ignore[attr-defined]
                return False  # taken over: its new holder writes
            if reminder_state is not None:
                connection.execute(stopped)
            return True

        # One transaction through the writer: on SQLite the ends of concurrent sends share one commit.
        return await self._db.write(end)

    async def of_reminder(self, reminder_id: int) -> list[dict[str, Any]]:
        """The occurrences of one reminder as plain dicts, oldest first (for tests and /reminders)."""
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(*_TABLE.c).where(_TABLE.c.reminder_id == reminder_id).order_by(_TABLE.c.id)
                )
            ).all()
        return [dict(row._mapping) for row in rows]
