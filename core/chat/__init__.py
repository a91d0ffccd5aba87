"""The chat core: one turn as a pipeline, the user's own operations, and restart recovery."""

from core.chat.service import DELETED_BEFORE_ANSWER, INTERRUPTED_REASON, REFUSAL, ChatService, InterruptedAnswer

__all__ = ["DELETED_BEFORE_ANSWER", "INTERRUPTED_REASON", "REFUSAL", "ChatService", "InterruptedAnswer"]
