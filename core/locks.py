"""Per-conversation ordering: one turn at a time in a conversation, many conversations at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ConversationLocks:
    """An asyncio lock per conversation id, dropped again when nobody holds or waits for it.

    asyncio locks are FIFO, so messages of one conversation are answered in the
    order they arrived.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        self._users[conversation_id] = self._users.get(conversation_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[conversation_id] -= 1
            if self._users[conversation_id] == 0:
                del self._users[conversation_id]
                del self._locks[conversation_id]

    def busy(self, conversation_id: int) -> bool:
        """Whether a turn is running or waiting in this conversation."""
        return conversation_id in self._locks
