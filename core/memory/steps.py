"""Long-term memory's places in the turn pipeline.

* :class:`RecallStep` (before the model, core/memory/recall.py): the few
  memories most relevant to the new message, under a small token budget.
* :class:`IndexMessagesStep` (after the answer): embeds and full-text indexes
  the turn's two messages, then catches up on the user's backlog (edits, deletions).
* :class:`ExtractMemoriesStep` (after the answer): asks the model, with a JSON
  schema, for durable facts in the user's message and stores them.
* :class:`ReindexOnChange` (history listener): re-indexes an edited message and
  takes a deleted or forgotten one out of the index.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.chat.steps import FinishedTurn, HistoryChange
from core.db.models import Conversation, Message
from core.db.models_memory import MessageEmbedding
from core.llm import ModelError, OpenAIModel, describe_api_error
from core.memory.fts import content_words
from core.memory.recall import RECALL_HEADING, RecallStep
from core.memory.search import MemorySearch
from core.memory.store import MemoryStore
from core.memory.sweep import OUTAGE_KINDS, ExtractionBacklog
from core.timefmt import stamp

log = logging.getLogger(__name__)


class IndexMessagesStep:
    """Indexes the turn's user message and answer for the speaker, then the user's backlog."""

    name = "index_messages"

    def __init__(self, store: MemoryStore, *, backlog_batch: int = 64) -> None:
        self.store = store
        self.backlog_batch = backlog_batch

    async def after_answer(self, turn: FinishedTurn) -> None:
        facts = turn.facts
        try:
            await self.store.index_messages(facts.user.id, [facts.user_message_id, facts.answer_message_id])
            await self.store.index_pending(facts.user.id, limit=self.backlog_batch)
        except ModelError as exc:
            # Not retried here: the memory sweep (core/memory/sweep.py) finds unindexed messages later.
            log.warning("indexing answer %s waits for the embedding endpoint: %s", facts.answer_message_id, exc)


class ReindexOnChange:
    """History listener: an edited, deleted or forgotten message is re-indexed or leaves the index."""

    name = "memory_reindex"

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def history_changed(self, change: HistoryChange) -> None:
        async with self.store.db.engine.connect() as conn:
            users = set(
                (
                    await conn.scalars(select(Conversation.user_id).where(Conversation.id == change.conversation_id))
                ).all()
            )
            if change.message_id is not None:
                users |= set(
                    (
                        await conn.scalars(
                            select(MessageEmbedding.user_id).where(MessageEmbedding.message_id == change.message_id)
                        )
                    ).all()
                )
                users |= set(
                    (
                        await conn.scalars(
                            select(Message.author_user_id).where(
                                Message.id == change.message_id, Message.author_user_id.is_not(None)
                            )
                        )
                    ).all()
                )
        for user_id in sorted(users):
            while await self.store.index_pending(user_id, limit=256) == 256:
                pass


EXTRACTION_PROMPT = """You keep a user's long-term memory. From the user's latest message, pick out durable facts \
about the user worth remembering for months: people in their life, where they live, preferences, diet, plans with \
dates, explicit "remember that ..." requests. Ignore small talk, questions, and anything only about this moment. \
Write each fact as one short sentence in the third person ("The user's sister is Ana."), with relative dates \
("next Friday") turned into calendar dates from the message's time stamp. If a fact contradicts or \
updates one of the known memories listed below, give that memory's id in "replaces". Answer with JSON only; an \
empty list when there is nothing to remember."""

# Words of messages that never hold a fact (checked after stopwords are gone).
SMALL_TALK = frozenset(
    "ok okay thanks thank yes yeah yep no nope sure great cool nice good fine hi hello hey bye goodbye lol haha "
    "morning evening night please sorry wow".split()
)

MEMORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "memories": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"text": {"type": "string"}, "replaces": {"type": ["integer", "null"]}},
                "required": ["text", "replaces"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["memories"],
    "additionalProperties": False,
}


class ExtractMemoriesStep:
    """Asks the model for durable facts in the user's message and remembers them."""

    name = "extract_memories"

    def __init__(
        self,
        store: MemoryStore,
        search: MemorySearch,
        model: OpenAIModel,
        *,
        model_name: str | None = None,
        backlog: ExtractionBacklog | None = None,
    ) -> None:
        """With a ``backlog``, an extraction the model fails is owed there (for the sweep), not raised."""
        self.store = store
        self.search = search
        self.model = model
        self.model_name = model_name
        self.backlog = backlog

    async def after_answer(self, turn: FinishedTurn) -> None:
        facts = turn.facts
        try:
            await self.extract(facts.user.id, facts.user_message_id, facts.text, facts.now, facts.timezone)
        except ModelError as exc:
            if self.backlog is None or exc.kind not in OUTAGE_KINDS:
                raise
            # Owed, not retried here: the memory sweep asks again once the model answers.
            log.warning("memory extraction of message %s waits for the model: %s", facts.user_message_id, exc)
            await self.backlog.owe(facts.user.id, facts.user_message_id, facts.timezone.key)

    async def extract(self, user_id: int, message_id: int, text: str, now: datetime, tz: ZoneInfo) -> None:
        """Ask the model for the durable facts in one user message and remember them (raises `ModelError`)."""
        if not set(content_words(text)) - SMALL_TALK:
            return  # "ok, thanks" holds no fact worth a model call
        related = await self.search.search(user_id, text, limit=10, kinds=("memory",))
        known = "\n".join(f"[{hit.id}] {hit.text}" for hit in related) or "(none)"
        messages = [
            {"role": "system", "content": f"{EXTRACTION_PROMPT}\n\nKnown memories:\n{known}"},
            {"role": "user", "content": f"{stamp(now, tz)}\n{text}"},
        ]
        for item in await self._ask(messages):
            await self.store.remember(
                user_id, item["text"], source_message_id=message_id, replaces=item.get("replaces")
            )

    async def _ask(self, messages: list[dict[str, str]]) -> list[dict[str, Any]]:
        try:
            response = await self.model.client.chat.completions.create(
                model=self.model_name or self.model.models.chat,
                messages=messages,  # type: ignore[arg-type]
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "memories", "schema": MEMORY_SCHEMA, "strict": True},
                },
            )
        except Exception as exc:  # noqa: BLE001 - becomes a ModelError the step runner logs and retries
            raise describe_api_error(exc) from exc
        content = response.choices[0].message.content if response.choices else None
        return parse_memories(content or "")


def parse_memories(content: str) -> list[dict[str, Any]]:
    """The facts of a structured answer; a malformed answer is logged and gives none."""
    try:
        data = json.loads(content)
        items = data["memories"]
        if not isinstance(items, list):
            raise TypeError("memories is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("memory extraction answered something other than the JSON asked for (%s)", exc)
        return []
    facts = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
            replaces = item.get("replaces")
            facts.append({"text": item["text"].strip(), "replaces": replaces if isinstance(replaces, int) else None})
    return facts


__all__ = ["RECALL_HEADING", "ExtractMemoriesStep", "IndexMessagesStep", "RecallStep", "ReindexOnChange"]
