"""Announces finished answers on the event bus (``AnswerComplete``), as an after-answer step of every turn."""

from __future__ import annotations

from core.chat.steps import FinishedTurn
from core.events import AnswerComplete, EventBus
from core.features.context import FeatureContext
from core.features.unit import FeatureParts
from core.types import MessageStatus


class PublishAnswers:
    """After-answer step: an answer stored complete is published as :class:`AnswerComplete`."""

    name = "publish-answers"

    def __init__(self, events: EventBus) -> None:
        self.events = events

    async def after_answer(self, turn: FinishedTurn) -> None:
        if turn.status is MessageStatus.COMPLETE:
            facts = turn.facts
            await self.events.publish(AnswerComplete(facts.user.id, facts.conversation_id, facts.answer_message_id))


class AnswerEvents:
    """The feature that tells the bus of every finished answer (for subscribers such as the web app's views)."""

    name = "answer-events"

    def install(self, context: FeatureContext) -> FeatureParts:
        return FeatureParts(after_answer=[PublishAnswers(context.events)])
