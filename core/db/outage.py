"""The database is away for a while: which errors say so, and writing again until a write lands.

An outage is a PostgreSQL server that is down or restarting (connections refused or
dropped), a SQLite file locked by another writer past the busy timeout, or a full disk.
Such a write is worth repeating; a constraint violation or a programming error is not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from core.clock import Sleep

log = logging.getLogger(__name__)

T = TypeVar("T")


# SQLite: another writer holds the file past the busy timeout, the disk is full or failing.
_SQLITE_OUTAGE = ("database is locked", "database table is locked", "disk is full", "disk i/o error")
# PostgreSQL SQLSTATE classes: 08 connection exception, 57P operator intervention (shutdown,
# starting up), 53 insufficient resources (disk full, too many connections).
_POSTGRES_OUTAGE = ("08", "57P", "53")


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached or written just now (worth trying again).

    A broken schema ("no such table") or a constraint violation is not an outage.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return True  # the connection broke ("connection is closed")
        original = exc.orig
        if isinstance(original, OSError | TimeoutError):
            return True
        state = str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "") or "")
        if state:
            return state.startswith(_POSTGRES_OUTAGE)
        return isinstance(exc, OperationalError) and any(m in str(original).lower() for m in _SQLITE_OUTAGE)
    # asyncpg raises the socket's own error when the server refuses or drops a connection.
    return isinstance(exc, OSError | TimeoutError | ConnectionError)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts: ``first`` seconds, doubling up to ``longest``, for ``budget`` seconds in all."""

    first: float = 0.5
    longest: float = 10.0
    budget: float = 300.0

    def delays(self) -> list[float]:
        """The waits, in order, whose sum stays within the budget."""
        waits: list[float] = []
        delay, total = self.first, 0.0
        while total + delay <= self.budget:
            waits.append(delay)
            total += delay
            delay = min(delay * 2, self.longest)
        return waits


class DatabaseUnavailable(Exception):
    """The database stayed away for the whole backoff budget."""


async def write_until_stored(
    write: Callable[[], Awaitable[T]], *, what: str, sleep: Sleep = asyncio.sleep, backoff: Backoff = Backoff()
) -> T:
    """Run ``write()`` until it lands, waiting out a database outage (see `Backoff`).

    Errors that are not an outage are raised at once; an outage longer than the budget
    raises `DatabaseUnavailable` from the last error.
    """
    waits = backoff.delays()
    failures = 0
    while True:
        try:
            result = await write()
        except Exception as exc:
            if not unavailable(exc):
                raise
            if failures == len(waits):
                log.error("the database stayed unavailable; gave up storing %s (%s)", what, describe(exc))
                raise DatabaseUnavailable(what) from exc
            log.warning(
                "the database is unavailable; storing %s again in %g s (%s)", what, waits[failures], describe(exc)
            )
            await sleep(waits[failures])
            failures += 1
            continue
        if failures:
            log.info("stored %s after %d failed attempts", what, failures)
        return result


def describe(exc: BaseException) -> str:
    """For a log line: the error's first line without the SQL statement SQLAlchemy appends (it may quote the user's text)."""
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"[:200]
