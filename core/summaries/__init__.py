"""Rolling summaries of long conversations (see core/summaries/rolling.py), as a feature unit."""

from __future__ import annotations

from core.context import ContextBuilder
from core.features import FeatureContext, FeatureParts
from core.llm import ChatModel
from core.summaries.repository import SummaryRepository
from core.summaries.rolling import RollingSummaries, SummaryBudget
from core.summaries.steps import StaleSummaries, SummarizeStep, SummaryContextStep
from core.summaries.writer import SummaryWriter

__all__ = ["RollingSummaries", "Summaries", "SummaryBudget"]


class Summaries:
    """Context before the model (the summaries of what left the window), writing after the answer, and
    rewriting a summary when a message it covers is edited or deleted."""

    name = "summaries"

    def __init__(self, model: ChatModel, context: ContextBuilder, *, model_name: str | None = None) -> None:
        """``context`` is the chat's context builder: the summaries fit its token budget."""
        self.model = model
        self.context = context
        self.model_name = model_name
        self.rolling: RollingSummaries | None = None  # once installed

    def install(self, context: FeatureContext) -> FeatureParts:
        repository = SummaryRepository(context.db)
        builder = self.context
        self.rolling = RollingSummaries(
            repository,
            SummaryWriter(self.model, model_name=self.model_name),
            builder.counter,
            SummaryBudget.for_context(builder.token_budget, builder.per_message_overhead),
            clock=context.clock,
        )
        return FeatureParts(
            before_model=[SummaryContextStep(repository)],
            after_answer=[SummarizeStep(self.rolling)],
            history_listeners=[StaleSummaries(self.rolling, context.tasks)],
        )
