"""Plug long-term memory into a ChatService: its steps, its tools, and the user operations.

The container calls :func:`add_long_term_memory` once, after building the chat
service, the way ``core.summaries.add_rolling_summaries`` is added.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.chat import ChatService
from core.llm import OpenAIModel
from core.memory.commands import MemoryCommands
from core.memory.embedder import Embedder
from core.memory.search import MemorySearch, SearchOptions
from core.memory.steps import ExtractMemoriesStep, IndexMessagesStep, RecallStep, ReindexOnChange
from core.memory.store import MemoryStore
from core.memory.sweep import ExtractionBacklog, MemorySweep
from core.memory.tool import ForgetMemoryTool, SearchMemoryTool

# A partial keyword hit counts with a cosine this much under the floor (0.30 → 0.25).
TEXT_FLOOR_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """The memory settings (bot/config.py: EMBEDDING_DIMENSIONS, RECALL_*, MEMORY_*)."""

    embedding_dimensions: int = 0
    recall_token_budget: int = 300
    recall_timeout: float = 0.5
    # How long recall waits for the new message's embedding before recalling from the previous
    # message instead; None: the whole timeout, 0: never (no network call before the first token).
    recall_wait: float | None = None
    similarity_floor: float = 0.30
    # A full-text hit holding this share of the question's word weight counts whatever its cosine.
    text_match: float = SearchOptions().text_match
    search_limit: int = 8  # most results of the search_memory tool
    extraction: bool = True
    extraction_model: str | None = None
    # Memory the users' vector indexes may hold together (least recently used ones are dropped past it),
    # and where large indexes keep their exact vectors (unnamed files; None: the system's temporary folder).
    index_budget_mb: int = 2048
    index_dir: str | None = None


@dataclass(frozen=True, slots=True)
class LongTermMemory:
    """What the rest of the process needs of memory: the store, search and the user operations."""

    store: MemoryStore
    search: MemorySearch
    commands: MemoryCommands
    sweep: MemorySweep  # catches up after a model outage, every minute of the chat's clock


def add_long_term_memory(chat: ChatService, model: OpenAIModel, settings: MemorySettings) -> LongTermMemory:
    """Register memory's steps and tools with ``chat`` and start indexing the existing history."""
    embedder = Embedder(model, dimensions=settings.embedding_dimensions or None)
    store = MemoryStore(
        chat.db,
        embedder,
        clock=chat.clock,
        index_budget_bytes=settings.index_budget_mb * 1024 * 1024,
        index_dir=settings.index_dir,
    )
    floor = settings.similarity_floor
    options = SearchOptions(floor=floor, text_floor=floor - TEXT_FLOOR_MARGIN, text_match=settings.text_match)
    search = MemorySearch(store, options=options)
    chat.pipeline.add_before_model(
        RecallStep(
            search,
            chat.counter,
            token_budget=settings.recall_token_budget,
            timeout=settings.recall_timeout,
            wait=settings.recall_wait,
        )
    )
    chat.pipeline.add_after_answer(IndexMessagesStep(store))
    backlog = ExtractionBacklog(chat.db, clock=chat.clock)
    extractor = None
    if settings.extraction:
        extractor = ExtractMemoriesStep(store, search, model, model_name=settings.extraction_model, backlog=backlog)
        chat.pipeline.add_after_answer(extractor)
    chat.pipeline.add_history_listener(ReindexOnChange(store))
    chat.tools.register(SearchMemoryTool(search, limit=settings.search_limit))
    chat.tools.register(ForgetMemoryTool(search))
    chat.tasks.spawn("memory-backfill", store.backfill)
    sweep = MemorySweep(store, backlog, extractor.extract if extractor else None, sleep=chat.sleep)
    chat.tasks.spawn_loop("memory-sweep", sweep.run)
    return LongTermMemory(store, search, MemoryCommands(chat.db, store, search), sweep)
