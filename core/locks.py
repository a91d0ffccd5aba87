"""Per-conversation ordering: one turn at a time in a conversation, many conversations at once.

In one process an asyncio lock per conversation is enough.  When several
processes share one PostgreSQL database, a PostgreSQL advisory lock keyed by the
conversation id is taken as well, so order holds across processes; and a
process that finds an answer still ``streaming`` can tell a live one (its
conversation's lock is held elsewhere) from one whose process died.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# First key of pg_advisory_lock(int, int): a namespace, so other applications'
# advisory locks on the same database never collide with ours ("CL").
ADVISORY_NAMESPACE = 0x434C


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks, one per conversation."""

    def __init__(self, engine: AsyncEngine, *, max_held: int = 16) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        # Each held lock keeps a pooled connection for the whole turn; capping them
        # leaves the pool room for the turns' own queries.
        self._slots = asyncio.Semaphore(max_held)

    @asynccontextmanager
    async def hold(self, conversation_id: int) -> AsyncIterator[None]:
        async with self._slots, self.engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(:ns, :id)"), {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
            )
            try:
                yield
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
                )

    @asynccontextmanager
    async def try_hold(self, conversation_id: int) -> AsyncIterator[bool]:
        """Take the lock only if nobody holds it; yields whether it was taken."""
        async with self.engine.connect() as connection:
            taken = bool(
                await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:ns, :id)"), {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
                )
            )
            try:
                yield taken
            finally:
                if taken:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
                    )


class ConversationLocks:
    """An asyncio lock per conversation id (dropped when unused), plus advisory locks when given.

    asyncio locks are FIFO, so messages of one conversation are answered in the
    order they arrived.
    """

    def __init__(self, advisory: AdvisoryLocks | None = None) -> None:
        self.advisory = advisory
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] = self._users.get(conversation_id, 0) + 1
        try:
            async with lock:
                if self.advisory is None:
                    yield
                else:
                    async with self.advisory.hold(conversation_id):
                        yield
        finally:
            self._users[conversation_id] -= 1
            if self._users[conversation_id] == 0:
                del self._users[conversation_id]
                del self._locks[conversation_id]

    @asynccontextmanager
    async def hold_if_free(self, conversation_id: int) -> AsyncIterator[bool]:
        """Hold the conversation only if no turn runs in it here or in another process."""
        if conversation_id in self._locks:
            yield False
        elif self.advisory is None:
            async with self.hold(conversation_id):
                yield True
        else:
            async with self.advisory.try_hold(conversation_id) as taken:
                yield taken

    def busy(self, conversation_id: int) -> bool:
        """Whether a turn is running or waiting in this conversation in this process."""
        return conversation_id in self._locks
