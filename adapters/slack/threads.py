"""Which channel threads are conversations with the assistant.

A thread becomes one when someone mentions the bot in it; later messages there
continue the conversation without a mention.  The database is the record (an
open conversation exists for the thread, asked through the chat service), so
this holds across restarts and processes; a set in memory spares the query for
threads already seen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.types import ConversationRef


class ActiveThreads:
    """Remembers the channel threads the assistant takes part in.

    ``has_conversation`` is ``ChatService.has_conversation``.
    """

    def __init__(self, has_conversation: Callable[[ConversationRef], Awaitable[bool]]) -> None:
        self._has_conversation = has_conversation
        self._known: set[ConversationRef] = set()

    def add(self, ref: ConversationRef) -> None:
        """The bot was mentioned in this thread."""
        self._known.add(ref)

    async def is_active(self, ref: ConversationRef) -> bool:
        """Whether messages in this thread are for the assistant."""
        if ref in self._known:
            return True
        if await self._has_conversation(ref):
            self._known.add(ref)
            return True
        return False
