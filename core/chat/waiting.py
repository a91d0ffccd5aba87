"""Messages waiting for their turn: edits and deletions that arrive meanwhile land here."""

from __future__ import annotations

from dataclasses import dataclass

from core.types import ConversationRef

WaitingKey = tuple[ConversationRef, str]


@dataclass(slots=True)
class Waiting:
    """A message not yet stored; the turn reads the latest text (or the deletion) when it begins."""

    text: str
    deleted: bool = False


class WaitingMessages:
    """The messages of this process that are queued behind another turn of their conversation."""

    def __init__(self) -> None:
        self._waiting: dict[WaitingKey, Waiting] = {}

    def enter(self, place: ConversationRef, platform_message_id: str, text: str) -> Waiting:
        """Register a message at its arrival (untracked when it has no platform id to be edited by)."""
        waiting = Waiting(text)
        if platform_message_id:
            self._waiting[(place, platform_message_id)] = waiting
        return waiting

    def leave(self, place: ConversationRef, platform_message_id: str, waiting: Waiting) -> None:
        """The message is stored (or abandoned): later edits go to the database."""
        key = (place, platform_message_id)
        if self._waiting.get(key) is waiting:
            del self._waiting[key]

    def edit(self, place: ConversationRef, platform_message_id: str, text: str) -> bool:
        """Apply an edit to a waiting message; False when it is not waiting."""
        waiting = self._waiting.get((place, platform_message_id))
        if waiting is None:
            return False
        waiting.text = text
        return True

    def delete(self, place: ConversationRef, platform_message_id: str) -> bool:
        """Mark a waiting message deleted (it will not be answered); False when it is not waiting."""
        waiting = self._waiting.get((place, platform_message_id))
        if waiting is None:
            return False
        waiting.deleted = True
        return True
