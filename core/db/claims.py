"""Leases on rows, decided by the database: the one claim mechanism of the daily log and of reminders.

A row is claimed by its unique key with ``INSERT … ON CONFLICT``: of any number of
processes sharing the database, the one whose insert makes the row holds it. When the
row exists, the same statement takes it again only where the caller's condition allows
(its holder went silent past the lease, or it gave the row back), a conditional UPDATE
that again only one process wins; without a condition the others get nothing.

The holder names itself in ``claimed_by`` and keeps ``claimed_at`` fresh (the lease):
when it dies its renewals stop and, once the lease has run out, another process takes
the row over. Every acquisition bumps ``attempts``, the fencing token: each write of a
holder requires the token it got, so a process that stalled past its lease (it was not
dead) and was taken over writes nothing more.

A table that uses it has an ``id`` primary key, a unique key, and the columns
``claimed_by``, ``claimed_at`` and ``attempts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, Table, Update, and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.database import Database


class LeaseLost(Exception):
    """The row this worker held was taken over by another (its lease ran out): it writes and sends nothing more."""


class Leases:
    """Claims, renews, gives back and takes over the rows of one table on behalf of one worker (one process).

    Methods that write take an open `session` to join its transaction (a claim made together
    with another change); without one each runs in a transaction of its own.
    """

    def __init__(self, database: Database, table: Table, *, key: Sequence[str], worker: str, lease: timedelta) -> None:
        """`key` names the unique columns a claim conflicts on; `worker` goes into ``claimed_by``; `lease` is how
        long a silent holder keeps a row."""
        if lease <= timedelta(0):
            raise ValueError("the lease must be positive")
        self._db = database
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert
        self.table = table
        self.key = tuple(key)
        self.worker = worker
        self.lease = lease

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Nobody holds the row at `now`: it was given back, or its holder has been silent past the lease."""
        c = self.table.c
        return or_(c.claimed_at.is_(None), c.claimed_at <= now - self.lease)

    def held(self, row_id: int, attempts: int) -> ColumnElement[bool]:
        """The row is still the one taken with token `attempts` (neither given back nor taken over)."""
        c = self.table.c
        return and_(c.id == row_id, c.attempts == attempts, c.claimed_at.is_not(None))

    async def claim(
        self,
        values: Mapping[str, Any],
        now: datetime,
        *,
        again: ColumnElement[bool] | None = None,
        refresh: Sequence[str] = (),
        session: AsyncSession | None = None,
    ) -> dict[str, Any] | None:
        """Make the row of `values` (with its key) and hold it; the row (as a dict) when this worker won, else None.

        When the row exists it is taken (token + 1, the columns named in `refresh` set from `values`)
        only where `again` holds; without `again`, never.
        """
        return await self._first(self.claiming(values, now, again=again, refresh=refresh), session)

    def claiming(
        self,
        values: Mapping[str, Any],
        now: datetime,
        *,
        again: ColumnElement[bool] | None = None,
        refresh: Sequence[str] = (),
    ) -> Executable:
        """The statement of :meth:`claim`, for a caller's own transaction: it returns the row when won."""
        c = self.table.c
        statement = self._insert(self.table).values(**values, claimed_by=self.worker, claimed_at=now, attempts=1)
        if again is None:
            statement = statement.on_conflict_do_nothing(index_elements=list(self.key))
        else:
            taken = {name: statement.excluded[name] for name in refresh}
            taken.update(claimed_by=self.worker, claimed_at=now, attempts=c.attempts + 1)
            statement = statement.on_conflict_do_update(index_elements=list(self.key), set_=taken, where=again)
        return statement.returning(*c)

    async def take_over(
        self, where: ColumnElement[bool], now: datetime, *, session: AsyncSession | None = None, **values: Any
    ) -> dict[str, Any] | None:
        """Take the row matching `where` when it is free (see :meth:`free`); the row, or None when another has it."""
        c = self.table.c
        statement = (
            update(self.table)
            .where(where, self.free(now))
            .values(claimed_by=self.worker, claimed_at=now, attempts=c.attempts + 1, **values)
            .returning(*c)
        )
        return await self._first(statement, session)

    async def renew(
        self,
        row_id: int,
        attempts: int,
        now: datetime,
        *where: ColumnElement[bool],
        session: AsyncSession | None = None,
        **values: Any,
    ) -> bool:
        """Keep the lease (and write `values`, a step's results) while the row is still held and `where` holds;
        False, writing nothing, when it is not."""
        return await self._count(self.renewal(row_id, attempts, now, *where, **values), session) == 1

    def renewal(self, row_id: int, attempts: int, now: datetime, *where: ColumnElement[bool], **values: Any) -> Update:
        """The statement of :meth:`renew`, for a caller's own transaction: it changes one row, or none when the
        row is no longer held."""
        return update(self.table).where(self.held(row_id, attempts), *where).values(claimed_at=now, **values)

    async def release(
        self,
        row_id: int,
        attempts: int,
        now: datetime,
        *where: ColumnElement[bool],
        rest: bool = False,
        session: AsyncSession | None = None,
        **values: Any,
    ) -> bool:
        """Give the row back (with `values`, say its error): free at once, or after one more lease with `rest`."""
        lease = {"claimed_by": None, "claimed_at": now} if rest else {"claimed_at": None}
        statement = update(self.table).where(self.held(row_id, attempts), *where).values(**lease, **values)
        return await self._count(statement, session) == 1

    async def _first(self, statement: Executable, session: AsyncSession | None) -> dict[str, Any] | None:
        if session is not None:
            row = (await session.execute(statement)).first()
            return dict(row._mapping) if row is not None else None
        return await self._db.write(lambda c: _first_row(c, statement))

    async def _count(self, statement: Executable, session: AsyncSession | None) -> int:
        if session is not None:
            return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]
        # Through the writer: on SQLite the renewals of concurrent sends share one commit.
        return await self._db.write(lambda c: int(c.execute(statement).rowcount))  # type: ignore[attr-defined]


def _first_row(connection: Connection, statement: Executable) -> dict[str, Any] | None:
    row = connection.execute(statement).first()
    return dict(row._mapping) if row is not None else None
