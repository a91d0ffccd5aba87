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

The writes that queued while one ran are committed together, each in a savepoint of
one transaction: when 100 turns start at once their claims (or their first messages)
cost a few commits, not 100, and each waiting writer's answer comes back in one hop.
A write that fails rolls back its own savepoint and fails alone; the others are stored.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection

T = TypeVar("T")

# A batch is one transaction: bounded, so the first writer of a long queue is not held
# up by all the others, and another process waiting for the lock gets its turn.
MOST_PER_BATCH = 50


@dataclass(slots=True)
class _Write:
    work: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class SQLiteWriter:
    """Runs ``work(connection)`` in a transaction on the writer thread, in the order asked."""

    def __init__(self, url: URL, on_connect: Callable[[Any, Any], None]) -> None:
        """``url``: the database's ``sqlite+aiosqlite`` URL; ``on_connect(dbapi_connection, record)``: its pragmas."""
        self.engine = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
        event.listen(self.engine, "connect", on_connect)
        event.listen(self.engine, "connect", _autocommit_driver)
        event.listen(self.engine, "begin", _begin_immediate)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._queue: deque[_Write] = deque()
        self._queue_lock = threading.Lock()

    async def run(self, work: Callable[[Connection], T]) -> T:
        """The result of ``work``, committed; its exception (rolled back) when it raised.

        Cancelled before the writer took it, ``work`` does not run; once taken, it is stored.
        """
        loop = asyncio.get_running_loop()
        write = _Write(work, loop.create_future(), loop)
        with self._queue_lock:
            self._queue.append(write)
        self._thread.submit(self._drain)  # one drain per write: a drain finding the queue empty returns
        return await write.future

    def _drain(self) -> None:
        with self._queue_lock:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), MOST_PER_BATCH))]
        # Reading a future's state from this thread is safe enough: a late cancellation is
        # only seen by _settle, which then drops the result (the write is stored all the same).
        batch = [write for write in batch if not write.future.cancelled()]
        if not batch:
            return
        outcomes: list[tuple[_Write, bool, Any]] = []
        try:
            with self.engine.begin() as connection:
                if len(batch) == 1:
                    outcomes.append((batch[0], True, batch[0].work(connection)))
                else:
                    for write in batch:
                        try:
                            with connection.begin_nested():
                                outcomes.append((write, True, write.work(connection)))
                        except Exception as exc:  # noqa: BLE001 - handed to its own writer
                            if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                                # SQLite rolled the whole transaction back (a full disk, an I/O error, a
                                # ROLLBACK conflict clause), not only this write's savepoint: what the batch
                                # wrote before is gone too, so every write of it fails (callers try again).
                                raise
                            outcomes.append((write, False, exc))
        except BaseException as exc:  # its work (alone), the BEGIN or the COMMIT failed: nothing is stored
            outcomes = [(write, False, exc) for write in batch]
            if not isinstance(exc, Exception):
                _settle_all(outcomes)
                raise
        _settle_all(outcomes)

    def close(self) -> None:
        """Finish the queued transactions, then close the connection (a later write opens it again)."""
        self._thread.shutdown(wait=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")  # no thread till used
        self.engine.dispose()


def _settle_all(outcomes: list[tuple[_Write, bool, Any]]) -> None:
    """Hand each write its result, with one wake-up of each event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write, bool, Any]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # that loop is closed: nobody waits for these any more
            pass


def _settle(outcomes: list[tuple[_Write, bool, Any]]) -> None:
    for write, ok, value in outcomes:
        if write.future.cancelled():
            continue
        if ok:
            write.future.set_result(value)
        else:
            write.future.set_exception(value)


def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module would open a deferred transaction by itself; SQLAlchemy's "begin" does it instead.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
