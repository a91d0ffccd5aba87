"""What a user can see and delete of their memory: the operations behind /memory and /forget-me.

They return records; the slash commands (core/memory/slash.py) phrase them for every platform.
Numbers in ``/memory`` are positions in the list, newest first, so
``/memory forget 2`` deletes the second line the user was shown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core.db.database import Database
from core.llm import ModelError
from core.memory.forget import forget_me
from core.memory.search import MemorySearch
from core.memory.store import MemoryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MemoryLine:
    """One memory as listed: its number in the full list (newest first; 0 when not listed), text and date."""

    number: int
    text: str
    noted_at: datetime


@dataclass(frozen=True, slots=True)
class MemoryListing:
    """``/memory``: the memories shown, and how many older ones were left out."""

    lines: list[MemoryLine]
    older: int


@dataclass(frozen=True, slots=True)
class MemoryMatches:
    """``/memory <words>``: the matches; ``unavailable`` is the reason, fit for the user, when search failed."""

    words: str
    lines: list[MemoryLine]
    unavailable: str = ""


@dataclass(frozen=True, slots=True)
class Forgotten:
    """``/memory forget <n>``: the text deleted (None: no memory ``position``), and how many are left."""

    text: str | None
    position: int
    remaining: int


# Work around the deletion, given the user's id: ``before`` runs while their rows still exist (revoke
# Google's grant with the stored token, find their accounts' folders), ``after`` once they are gone.
ForgetHook = Callable[[int], Awaitable[None]]


class MemoryCommands:
    """List, search and delete a user's memories; delete everything of a user."""

    def __init__(self, db: Database, store: MemoryStore, search: MemorySearch, *, list_limit: int = 50) -> None:
        self.db = db
        self.store = store
        self.search = search
        self.list_limit = list_limit
        self.before_forget: list[ForgetHook] = []
        self.after_forget: list[ForgetHook] = []

    async def listing(self, user_id: int) -> MemoryListing:
        """``/memory``: the memories, newest first, numbered (at most ``list_limit``)."""
        memories = await self.store.list_memories(user_id)
        shown = [
            MemoryLine(n, m.text, m.updated_at)  # type: ignore[attr-defined]
            for n, m in enumerate(memories[: self.list_limit], start=1)
        ]
        return MemoryListing(shown, max(0, len(memories) - self.list_limit))

    async def matching(self, user_id: int, words: str) -> MemoryMatches:
        """``/memory <words>``: the memories that match, numbered as in the full list."""
        try:
            hits = await self.search.search(user_id, words, limit=10, kinds=("memory",))
        except ModelError as exc:
            log.warning("memory search failed: %s", exc)
            return MemoryMatches(words, [], unavailable=exc.user_message)
        numbers = {m.id: n for n, m in enumerate(await self.store.list_memories(user_id), start=1)}
        return MemoryMatches(words, [MemoryLine(numbers.get(h.id, 0), h.text, h.created_at) for h in hits])

    async def forget_number(self, user_id: int, position: int) -> Forgotten:
        """``/memory forget <n>``: delete the n-th memory of the list (``text`` None when there is none)."""
        memories = await self.store.list_memories(user_id)
        if not 1 <= position <= len(memories):
            return Forgotten(None, position, len(memories))
        target = memories[position - 1]
        await self.store.forget_memory(user_id, target.id)
        return Forgotten(target.text, position, len(memories) - 1)

    async def forget_me(self, user_id: int) -> dict[str, int]:
        """``/forget-me`` after the user confirmed: delete everything; the rows deleted, by table."""
        for hook in self.before_forget:
            await hook(user_id)
        counts = await forget_me(self.db, user_id)
        self.store.forget_user(user_id)
        self.search.word_counts.forget_user(user_id)  # the words of their questions, too
        for hook in self.after_forget:
            await hook(user_id)
        log.info("forget-me: deleted the data of user %s (%s rows)", user_id, sum(counts.values()))
        return counts
