"""After a restart: answers a dead process left ``streaming`` become ``partial``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.chat.turn import RESTART_REASON
from core.db.repositories import MessageRepository
from core.locks import PlaceLocks
from core.tokens import TokenCounter
from core.types import ConversationRef

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InterruptedAnswer:
    """An answer cut off by a restart, for the adapter to close off on the platform."""

    message_id: int
    conversation: ConversationRef
    text: str
    platform_parts: tuple[str, ...]


async def recover_interrupted(
    platform: str, *, messages: MessageRepository, locks: PlaceLocks, counter: TokenCounter
) -> list[InterruptedAnswer]:
    """Mark answers that a dead process left ``streaming`` as partial; return them for the adapter.

    An answer whose conversation is locked (a turn runs in it here or in
    another process sharing the database) is alive and left alone.  The list is
    read before any lock is taken, so each answer is closed only if it is still
    ``streaming`` under the lock: its turn may have stored it and let go of the
    conversation in between.
    """
    found: list[InterruptedAnswer] = []
    for message, ref in await messages.interrupted(platform):
        async with locks.hold_if_free(ref) as free:
            if not free:
                continue
            closed = await messages.close_interrupted(message.id, reason=RESTART_REASON, count=counter.count)
        if closed is None:
            continue
        text, parts = closed
        log.warning("answer %s in %s was interrupted by a restart; marked partial", message.id, ref)
        found.append(InterruptedAnswer(message.id, ref, text, tuple(parts)))
    return found
