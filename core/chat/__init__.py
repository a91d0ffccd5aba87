"""The chat core: one turn as a pipeline, the user's own operations, and restart recovery."""

from core.chat.recovery import InterruptedAnswer
from core.chat.service import NOTHING_READABLE, ChatService
from core.chat.turn import DELETED_BEFORE_ANSWER, INTERRUPTED_REASON, RESTART_REASON
from core.people import REFUSAL

__all__ = [
    "DELETED_BEFORE_ANSWER",
    "INTERRUPTED_REASON",
    "RESTART_REASON",
    "NOTHING_READABLE",
    "REFUSAL",
    "ChatService",
    "InterruptedAnswer",
]
