"""What a user can see and delete of their memory: the text behind /memory and /forget-me.

The slash commands (Discord, Slack, terminal) call these and post the text.
Numbers in ``/memory`` are positions in the list, newest first, so
``/memory forget 2`` deletes the second line the user was shown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from core.db.database import Database
from core.llm import ModelError
from core.memory.forget import forget_me
from core.memory.search import MemorySearch
from core.memory.store import MemoryStore

log = logging.getLogger(__name__)

FORGET_ME_WARNING = (
    "This deletes everything stored about you: every message of every conversation, summaries, memories, "
    "search indexes, saved images and speech, cached day PDFs, on every platform, and revokes my access to your "
    "Google account. It cannot be undone. What stays: the messages the platforms themselves show (delete them "
    "there), and my answers in threads other people started, which stay in their conversation and may repeat "
    "your words."
)
FORGOTTEN = (
    "Done: everything I stored about you is deleted. If you write again, I start from nothing. "
    "What stays: the messages Discord or Slack still show (delete them there), and my answers in threads "
    "other people started, which stay in their conversation and may repeat your words."
)

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

    async def list_text(self, user_id: int, tz: ZoneInfo) -> str:
        """``/memory``: numbered memories, newest first, with the date each was noted."""
        memories = await self.store.list_memories(user_id)
        if not memories:
            return "I don't remember anything about you yet."
        lines = [
            f"{n}. {m.text} ({m.updated_at.astimezone(tz):%Y-%m-%d})"  # type: ignore[attr-defined]
            for n, m in enumerate(memories[: self.list_limit], start=1)
        ]
        more = len(memories) - self.list_limit
        tail = [f"…and {more} older ones."] if more > 0 else []
        return "\n".join(
            ["What I remember about you (newest first):", *lines, *tail, "Delete one with /memory forget <n>."]
        )

    async def search_text(self, user_id: int, words: str, tz: ZoneInfo) -> str:
        """``/memory <words>``: the memories that match, numbered as in the full list."""
        try:
            hits = await self.search.search(user_id, words, limit=10, kinds=("memory",))
        except ModelError as exc:
            log.warning("memory search failed: %s", exc)
            return f"I can't search my memory right now: {exc.user_message}"
        if not hits:
            return f"I don't remember anything about “{words}”."
        numbers = {m.id: n for n, m in enumerate(await self.store.list_memories(user_id), start=1)}
        lines = [f"{numbers.get(h.id, '?')}. {h.text} ({h.created_at.astimezone(tz):%Y-%m-%d})" for h in hits]
        return "\n".join(["Memories matching “" + words + "”:", *lines])

    async def forget_text(self, user_id: int, number: str) -> str:
        """``/memory forget <n>``: delete the n-th memory of the list."""
        try:
            position = int(number.strip().lstrip("#"))
        except ValueError:
            return "Tell me which memory to forget by its number in /memory, for example: /memory forget 2."
        memories = await self.store.list_memories(user_id)
        if not 1 <= position <= len(memories):
            return f"There is no memory number {position}; /memory shows {len(memories)}."
        target = memories[position - 1]
        await self.store.forget_memory(user_id, target.id)
        return f"Forgotten: {target.text}"

    async def forget_me(self, user_id: int) -> str:
        """``/forget-me`` after the user confirmed: delete everything, say what went."""
        for hook in self.before_forget:
            await hook(user_id)
        counts = await forget_me(self.db, user_id)
        self.store.forget_user(user_id)
        self.search.word_counts.forget_user(user_id)  # the words of their questions, too
        for hook in self.after_forget:
            await hook(user_id)
        log.info("forget-me: deleted the data of user %s (%s rows)", user_id, sum(counts.values()))
        return FORGOTTEN
