"""Where features plug into a turn: before-model steps and after-answer steps (see core/chat/steps.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from core.chat.steps import (
    AfterAnswerStep,
    BeforeModelStep,
    ContextAddition,
    FinishedTurn,
    HistoryChange,
    HistoryListener,
    TurnFacts,
)
from core.tasks import BackgroundTasks

log = logging.getLogger(__name__)


class TurnPipeline:
    """The steps of every turn. Add a step with :meth:`before_model` or :meth:`after_answer`."""

    def __init__(
        self,
        tasks: BackgroundTasks,
        *,
        before: Sequence[BeforeModelStep] = (),
        after: Sequence[AfterAnswerStep] = (),
    ) -> None:
        self.tasks = tasks
        self.before: list[BeforeModelStep] = list(before)
        self.after: list[AfterAnswerStep] = list(after)
        self.listeners: list[HistoryListener] = []

    def add_before_model(self, step: BeforeModelStep) -> None:
        """Run ``step`` before each model call; its context comes after the earlier steps'."""
        self.before.append(step)

    def add_after_answer(self, step: AfterAnswerStep) -> None:
        """Run ``step`` in the background after each stored answer."""
        self.after.append(step)

    def add_history_listener(self, listener: HistoryListener) -> None:
        """Tell ``listener`` (in the background) whenever stored messages change in place."""
        self.listeners.append(listener)

    def history_changed(self, change: HistoryChange) -> None:
        """Start every history listener as an owned background task."""
        for listener in self.listeners:
            self.tasks.spawn(
                f"{listener.name}:conversation-{change.conversation_id}",
                lambda listener=listener: listener.history_changed(change),
            )

    async def run_before_model(self, turn: TurnFacts) -> list[ContextAddition]:
        """Every before-model step, concurrently, each within its own timeout; a slow or failing one is skipped."""
        steps = [s for s in self.before if not (turn.shared and getattr(s, "private", False))]
        if not steps:
            return []
        results = await asyncio.gather(*(self._one_before(step, turn) for step in steps))
        return [r for r in results if r is not None]

    async def _one_before(self, step: BeforeModelStep, turn: TurnFacts) -> ContextAddition | None:
        try:
            return await asyncio.wait_for(step.before_model(turn), step.timeout)
        except TimeoutError:
            log.warning("before-model step %s took over %.2f s; the turn goes on without it", step.name, step.timeout)
        except Exception:  # noqa: BLE001 - context is a help, never a reason to fail the turn
            log.exception("before-model step %s failed; the turn goes on without it", step.name)
        return None

    def run_after_answer(self, turn: FinishedTurn) -> None:
        """Start every after-answer step as an owned background task (never awaited by the turn)."""
        for step in self.after:
            self.tasks.spawn(
                f"{step.name}:answer-{turn.facts.answer_message_id}", lambda step=step: step.after_answer(turn)
            )
