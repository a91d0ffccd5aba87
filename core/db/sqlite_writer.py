"""One thread that runs this process's SQLite write transactions, each whole at once.

Through aiosqlite every statement of a transaction is a round trip between its
thread and the event loop, and SQLite's write lock stays taken across them: with
100 turns starting at once, each round trip waits for the busy loop, a write
transaction held the lock for tens of milliseconds, and the other writers slept in
SQLite's busy handler holding every pooled connection (readers found none: a window
read waited seconds). Here a transaction runs start to end in this thread, on a
synchronous connection of its own (``BEGIN IMMEDIATE``: the lock is taken up front,
so a read-then-write transaction never fails to upgrade), and writers wait their
turn in the thread's queue, not in the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection

T = TypeVar("T")


class SQLiteWriter:
    """Runs ``work(connection)`` in a transaction on the writer thread, one at a time, in the order asked."""

    def __init__(self, url: URL, on_connect: Callable[[Any, Any], None]) -> None:
        """``url``: the database's ``sqlite+aiosqlite`` URL; ``on_connect(dbapi_connection, record)``: its pragmas."""
        self.engine = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
        event.listen(self.engine, "connect", on_connect)
        event.listen(self.engine, "connect", _autocommit_driver)
        event.listen(self.engine, "begin", _begin_immediate)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """The result of ``work``, committed; its exception (rolled back) when it raised."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, work)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        with self.engine.begin() as connection:
            return work(connection)

    def close(self) -> None:
        """Finish the queued transactions, then close the connection (a later write opens it again)."""
        self._thread.shutdown(wait=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")  # no thread till used
        self.engine.dispose()


def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module would open a deferred transaction by itself; SQLAlchemy's "begin" does it instead.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
