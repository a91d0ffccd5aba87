"""The services' own settings, read from the process settings (bot/config.py) once, for the container."""

from __future__ import annotations

from bot.config import Settings
from core.clock import Clock
from core.db.database import Database
from core.limits import LimitSettings, UsageLimits
from core.memory.wiring import MemorySettings


def usage_limits(settings: Settings, db: Database, clock: Clock) -> UsageLimits:
    """The per-person limits (messages, images, tool calls, paid searches, calendar changes)."""
    return UsageLimits(
        LimitSettings(
            messages_per_minute=settings.messages_per_minute,
            messages_per_day=settings.messages_per_day,
            images_per_day=settings.images_per_day,
            waiting_per_conversation=settings.waiting_per_conversation,
            tool_calls_per_round=settings.tool_calls_per_round,
            tool_calls_per_turn=settings.tool_calls_per_turn,
            web_searches_per_day=settings.web_searches_per_day,
            calendar_changes_per_day=settings.calendar_changes_per_day,
        ),
        clock=clock,
        db=db,
    )


def memory_settings(settings: Settings) -> MemorySettings:
    """Long-term memory's settings (EMBEDDING_DIMENSIONS, RECALL_*, MEMORY_*; the indexes under DATA_DIR)."""
    return MemorySettings(
        embedding_dimensions=settings.embedding_dimensions,
        recall_token_budget=settings.recall_token_budget,
        recall_timeout=settings.recall_timeout,
        recall_wait=settings.recall_wait,
        similarity_floor=settings.memory_similarity_floor,
        text_match=settings.memory_text_match,
        search_limit=settings.memory_search_limit,
        extraction=settings.memory_extraction,
        index_budget_mb=settings.memory_index_budget_mb,
        index_dir=str(settings.data_dir / "index"),
    )
