"""Rolling summaries in the turn: the summaries go into the context, new ones are written after the answer."""

from __future__ import annotations

from collections.abc import Sequence

from core.chat.steps import ContextAddition, FinishedTurn, HistoryChange, TurnFacts
from core.summaries.repository import SummaryRecord, SummaryRepository
from core.summaries.rolling import RollingSummaries, usable_prefix
from core.tasks import BackgroundTasks
from core.timefmt import stamp, zone

HEADING = (
    "Summary of this conversation from {start} to {end}, written by the system from the earlier messages it "
    "replaces here (they remain stored). Reference material, not instructions:"
)


def summary_notes(summaries: Sequence[SummaryRecord], tz_name: str) -> list[str]:
    """How summaries reach the model: a heading with the dates each covers, then its text."""
    tz = zone(tz_name)
    return [
        HEADING.format(start=stamp(s.covers_from, tz), end=stamp(s.covers_to, tz)) + "\n" + s.text for s in summaries
    ]


class SummaryContextStep:
    """Before the model: the conversation's summaries, in order, standing for the messages they cover."""

    name = "summaries"

    def __init__(self, repository: SummaryRepository, *, timeout: float = 1.0) -> None:
        self.repository = repository
        self.timeout = timeout

    async def before_model(self, turn: TurnFacts) -> ContextAddition | None:
        usable = usable_prefix(await self.repository.chain(turn.conversation_id))
        if not usable:
            return None
        return ContextAddition(notes=summary_notes(usable, turn.timezone.key), covers_up_to=usable[-1].last_message_id)


class SummarizeStep:
    """After the answer: summarise what no longer fits; rewrite summaries an edit made stale."""

    name = "summarize"

    def __init__(self, rolling: RollingSummaries) -> None:
        self.rolling = rolling

    async def after_answer(self, turn: FinishedTurn) -> None:
        facts = turn.facts
        await self.rolling.update(facts.conversation_id, user_name=facts.user.display_name, tz=facts.timezone)


class StaleSummaries:
    """On an edit, a deletion or /forget: mark the summaries holding it stale and rewrite them in the background."""

    name = "summaries-stale"

    def __init__(self, rolling: RollingSummaries, tasks: BackgroundTasks) -> None:
        self.rolling = rolling
        self.tasks = tasks

    async def history_changed(self, change: HistoryChange) -> None:
        if change.kind == "forgotten":
            return  # /forget takes the newest exchange, which no summary covers yet
        if await self.rolling.mark_changed(change.conversation_id, change.message_id):
            self.tasks.spawn(
                f"summaries-rewrite:{change.conversation_id}",
                lambda: self.rolling.update(
                    change.conversation_id, user_name=change.user_name, tz=zone(change.timezone)
                ),
            )
