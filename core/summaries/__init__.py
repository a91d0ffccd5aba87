"""Rolling summaries of long conversations (see core/summaries/rolling.py)."""

from __future__ import annotations

from core.chat import ChatService
from core.llm import ChatModel
from core.summaries.repository import SummaryRepository
from core.summaries.rolling import RollingSummaries, SummaryBudget
from core.summaries.steps import StaleSummaries, SummarizeStep, SummaryContextStep
from core.summaries.writer import SummaryWriter

__all__ = ["RollingSummaries", "SummaryBudget", "add_rolling_summaries"]


def add_rolling_summaries(chat: ChatService, model: ChatModel, *, model_name: str | None = None) -> RollingSummaries:
    """Plug rolling summaries into ``chat``'s pipeline: context before the model, writing after the answer."""
    repository = SummaryRepository(chat.db)
    rolling = RollingSummaries(
        repository,
        SummaryWriter(model, model_name=model_name),
        chat.counter,
        SummaryBudget.for_context(chat.context.token_budget, chat.context.per_message_overhead),
        clock=chat.clock,
    )
    chat.pipeline.add_before_model(SummaryContextStep(repository))
    chat.pipeline.add_after_answer(SummarizeStep(rolling))
    chat.pipeline.add_history_listener(StaleSummaries(rolling, chat.tasks))
    return rolling
