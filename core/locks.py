"""Ordering: one turn at a time per place (DM, thread), many places at once.

In one process an asyncio lock per place is enough.  When several processes
share one PostgreSQL database, a PostgreSQL advisory lock keyed by the place is
taken as well, so order holds across processes; and a process that finds an
answer still ``streaming`` can tell a live one (its place's lock is held
elsewhere) from one whose process died.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.types import ConversationRef

# First key of pg_advisory_lock(int, int): a namespace, so other applications'
# advisory locks on the same database never collide with ours ("CL").
ADVISORY_NAMESPACE = 0x434C

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """An asyncio lock per key, dropped again when nobody holds or waits for it.

    asyncio locks are FIFO and an uncontended one is taken without yielding, so
    callers that ask in order are served in order.
    """

    def __init__(self) -> None:
        self._locks: dict[K, asyncio.Lock] = {}
        self._users: dict[K, int] = {}

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def busy(self, key: K) -> bool:
        """Whether someone holds or waits for this key."""
        return key in self._locks


LOCK = text("SELECT pg_advisory_lock(:ns, :id)")
TRY_LOCK = text("SELECT pg_try_advisory_lock(:ns, :id)")
UNLOCK = text("SELECT pg_advisory_unlock(:ns, :id)")


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks, one per conversation.

    The connections that hold locks come from a pool of their own, in autocommit
    mode, one per running turn; they also carry the turn's own writes.  Taking
    the lock is the first statement on a checked-out connection, so it doubles
    as the liveness check (a dropped connection is replaced once) instead of a
    separate ping.
    """

    def __init__(self, url: str, *, kept: int = 8, max_held: int = 64) -> None:
        # One connection per running turn. Past ``max_held`` turns wait their turn
        # (pool_timeout is long on purpose: a turn that waits is delayed, not lost).
        self.engine: AsyncEngine = create_async_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_size=kept,
            max_overflow=max(0, max_held - kept),
            pool_timeout=3600,
            pool_pre_ping=False,
        )

    @asynccontextmanager
    async def hold(self, conversation_id: int) -> AsyncIterator[AsyncConnection]:
        """Hold the lock; yields the (autocommit) connection holding it, for the turn's own statements."""
        params = {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
        async with self._connection_running(LOCK, params) as (connection, _):
            try:
                yield connection
            finally:
                await _unlock(connection, params)

    @asynccontextmanager
    async def try_hold(self, conversation_id: int) -> AsyncIterator[bool]:
        """Take the lock only if nobody holds it; yields whether it was taken."""
        params = {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
        async with self._connection_running(TRY_LOCK, params) as (connection, taken):
            try:
                yield bool(taken)
            finally:
                if taken:
                    await _unlock(connection, params)

    @asynccontextmanager
    async def _connection_running(
        self, statement: object, params: dict[str, int]
    ) -> AsyncIterator[tuple[AsyncConnection, object]]:
        for attempt in (1, 2):
            async with self.engine.connect() as connection:
                try:
                    result = await connection.scalar(statement, params)  # type: ignore[arg-type]
                except DBAPIError as exc:
                    if exc.connection_invalidated and attempt == 1:
                        continue  # the server dropped this pooled connection (a restart): take a fresh one
                    raise
                yield connection, result
                return

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _unlock(connection: AsyncConnection, params: dict[str, int]) -> None:
    """Release the lock; a connection broken mid-statement (a cancel) releases it by closing."""
    if connection.invalidated:
        return
    try:
        await connection.execute(UNLOCK, params)
    except SQLAlchemyError:
        # The server session ends with the connection, and its locks with it.
        await connection.invalidate()


def place_key(place: ConversationRef) -> int:
    """A stable 31-bit advisory-lock key for a place (a collision only serialises two places)."""
    name = f"{place.platform}\x1f{place.workspace}\x1f{place.channel}\x1f{place.thread}".encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=4).digest(), "big") & 0x7FFFFFFF


class PlaceLocks:
    """One turn at a time per place (a DM, a thread): in this process, and across processes
    when ``advisory`` is given.

    A place's conversation is looked up under its lock, so /new in any process
    and the next message's turn can never interleave.
    """

    def __init__(self, advisory: AdvisoryLocks | None = None) -> None:
        self.advisory = advisory
        self._local: KeyedLocks[ConversationRef] = KeyedLocks()

    @asynccontextmanager
    async def hold(self, place: ConversationRef) -> AsyncIterator[AsyncConnection | None]:
        """Hold the place. Across processes, yields the connection holding the advisory lock.

        The local lock is taken without yielding when free, so callers that ask
        in order are served in order.
        """
        async with self._local.hold(place):
            if self.advisory is None:
                yield None
            else:
                async with self.advisory.hold(place_key(place)) as connection:
                    yield connection

    @asynccontextmanager
    async def hold_if_free(self, place: ConversationRef) -> AsyncIterator[bool]:
        """Hold the place only if no turn runs in it here or in another process."""
        if self._local.busy(place):
            yield False
        elif self.advisory is None:
            async with self.hold(place):
                yield True
        else:
            async with self.advisory.try_hold(place_key(place)) as taken:
                yield taken

    def busy(self, place: ConversationRef) -> bool:
        """Whether a turn is running or waiting at this place in this process."""
        return self._local.busy(place)
