"""Which conversation is open at a platform place, cached where one process owns the database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.repositories import ConversationRepository
from core.types import ConversationRef


class ConversationLookup:
    """place → open conversation id."""

    def __init__(self, conversations: ConversationRepository, *, shared: bool = False) -> None:
        """``shared``: other processes use the database too (PostgreSQL), so nothing is cached."""
        self.conversations = conversations
        self.shared = shared
        self._cache: dict[ConversationRef, int] = {}

    async def open_for(self, ref: ConversationRef, owner_user_id: int, connection: AsyncConnection | None) -> int:
        """The open conversation at ``ref``, started for ``owner_user_id`` when there is none."""
        if self.shared:
            # Other processes may start a new conversation here (/new): ask the database.
            return await self.conversations.open_for(ref, owner_user_id, connection=connection)
        cached = self._cache.get(ref)
        if cached is None:
            cached = await self.conversations.open_for(ref, owner_user_id)
            self._cache[ref] = cached
        return cached

    async def find_open(self, ref: ConversationRef, *, connection: AsyncConnection | None = None) -> int | None:
        """The open conversation at ``ref``, or None (never starts one)."""
        return await self.conversations.find_open(ref, connection=connection)

    async def owner_of(self, conversation_id: int) -> int | None:
        """The user who owns a conversation."""
        return await self.conversations.owner_of(conversation_id)

    async def of_user(self, user_id: int) -> list[tuple[int, ConversationRef, bool]]:
        """Every conversation of a user: id, place, still open."""
        return await self.conversations.of_user(user_id)

    async def close(self, ref: ConversationRef, connection: AsyncConnection | None) -> int | None:
        """Close the open conversation at ``ref``; returns the id it had in this process's cache."""
        forgotten = self._cache.pop(ref, None)
        await self.conversations.close(ref, connection=connection)
        return forgotten
