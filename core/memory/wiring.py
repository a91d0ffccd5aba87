"""Long-term memory as a feature unit: recall before the model, indexing and extraction after the
answer, the memory tools, /memory and /forget-me, and the catch-up sweep."""

from __future__ import annotations

from dataclasses import dataclass

from core.features import FeatureContext, FeatureParts
from core.llm import OpenAIModel
from core.memory.commands import MemoryCommands
from core.memory.embedder import Embedder
from core.memory.search import MemorySearch, SearchOptions
from core.memory.shaped import RecalledForAnswers, RecordRecalledStep, ShapedAnswers
from core.memory.slash import MemorySlashCommands, memory_commands
from core.memory.steps import ExtractMemoriesStep, IndexMessagesStep, RecallStep, ReindexOnChange
from core.memory.store import MemoryStore
from core.memory.sweep import ExtractionBacklog, MemorySweep
from core.memory.tool import ForgetMemoryTool, SearchMemoryTool
from core.tokens import TokenCounter


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
    search_limit: int = 8  # most results of the search_memory tool and of recall
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
    shaped: ShapedAnswers  # which memories shaped an answer (listed under it in the web app)


class Memory:
    """The memory feature; :attr:`services` (the store, search, user operations) once installed."""

    name = "memory"

    def __init__(
        self, model: OpenAIModel, settings: MemorySettings, counter: TokenCounter, *, default_timezone: str = "UTC"
    ) -> None:
        """``counter`` counts the chat model's tokens (recall fits its budget); ``default_timezone`` dates
        the memories /memory lists for people who chose no time zone."""
        self.model = model
        self.settings = settings
        self.counter = counter
        self.default_timezone = default_timezone
        self.services: LongTermMemory | None = None

    def install(self, context: FeatureContext) -> FeatureParts:
        settings, model = self.settings, self.model
        embedder = Embedder(model, dimensions=settings.embedding_dimensions or None)
        store = MemoryStore(
            context.db,
            embedder,
            clock=context.clock,
            index_budget_bytes=settings.index_budget_mb * 1024 * 1024,
            index_dir=settings.index_dir,
        )
        options = SearchOptions(floor=settings.similarity_floor, text_match=settings.text_match)
        search = MemorySearch(store, options=options)
        recalled = RecalledForAnswers()
        recall = RecallStep(
            search,
            self.counter,
            token_budget=settings.recall_token_budget,
            timeout=settings.recall_timeout,
            wait=settings.recall_wait,
            limit=settings.search_limit,
            recalled=recalled,
        )
        backlog = ExtractionBacklog(context.db, clock=context.clock)
        extractor = None
        if settings.extraction:
            extractor = ExtractMemoriesStep(store, search, model, model_name=settings.extraction_model, backlog=backlog)
        sweep = MemorySweep(store, backlog, extractor.extract if extractor else None, sleep=context.sleep)
        self.services = LongTermMemory(
            store, search, MemoryCommands(context.db, store, search), sweep, ShapedAnswers(context.db, recalled)
        )
        slash = MemorySlashCommands(
            context.chat, self.services.commands, default_timezone=self.default_timezone, events=context.events
        )
        return FeatureParts(
            before_model=[recall],
            after_answer=[
                IndexMessagesStep(store),
                RecordRecalledStep(context.db, recalled),
                *([extractor] if extractor is not None else []),
            ],
            history_listeners=[ReindexOnChange(store)],
            tools=[SearchMemoryTool(search, limit=settings.search_limit), ForgetMemoryTool(search)],
            commands=memory_commands(slash),
            tasks=[("memory-backfill", store.backfill)],
            loops=[("memory-sweep", sweep.run)],
        )
