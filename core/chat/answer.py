"""The answer being written: checkpoints while it grows, and its final state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Sleep
from core.context import ContextBuilder
from core.db.outage import describe, write_until_stored
from core.db.repositories import ContextRow, MessageRepository
from core.timefmt import zone
from core.toolloop.loop import LoopOutcome
from core.types import MessageStatus
from core.window import WindowCache

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AnswerDraft:
    """An answer row being filled; ``connection`` (PostgreSQL) holds the conversation's lock."""

    id: int
    conversation_id: int
    created_at: datetime
    connection: AsyncConnection | None
    outcome: LoopOutcome = field(default_factory=LoopOutcome)
    last_checkpoint: float = field(default_factory=time.monotonic)
    saving: asyncio.Task[None] | None = None  # the checkpoint being written, if any

    @property
    def text(self) -> str:
        return self.outcome.text


class AnswerRecorder:
    """Stores answers: periodic checkpoints, the final state, and the cached window's copy."""

    def __init__(
        self,
        messages: MessageRepository,
        context: ContextBuilder,
        windows: WindowCache,
        *,
        checkpoint_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.messages = messages
        self.context = context
        self.windows = windows
        self.checkpoint_interval = checkpoint_interval
        self.monotonic = monotonic
        self.sleep = sleep

    async def maybe_checkpoint(self, answer: AnswerDraft) -> None:
        """Save the text so far when the interval has passed, so a crash loses at most that much.

        The write runs beside the stream, never in its way: with many answers at once
        the database queues writes, and a turn waiting on its checkpoint would hold
        back the text the user is waiting for.  One write per answer at a time; while
        it is under way the next one waits for a later delta.
        """
        now = self.monotonic()
        if now - answer.last_checkpoint < self.checkpoint_interval:
            return
        if answer.saving is not None and not answer.saving.done():
            return
        answer.last_checkpoint = now
        # Through the pool, not the turn's own connection: a connection runs one statement at a time.
        answer.saving = asyncio.get_running_loop().create_task(self._checkpoint(answer.id, answer.text))

    async def _checkpoint(self, answer_id: int, text: str) -> None:
        try:
            await self.messages.checkpoint(answer_id, text)
        except Exception as exc:  # noqa: BLE001 - the final write stores everything; this was insurance
            log.warning("checkpoint of answer %s failed: %s", answer_id, describe(exc))

    async def finish(self, answer: AnswerDraft, status: MessageStatus, *, reason: str = "") -> None:
        """Store the answer's final text, status and usage (after any checkpoint still being written).

        The write is repeated through a database outage (`core.db.outage`), so what is
        stored is what the user saw; the turn, and so the conversation's next turn, waits
        for it. Raises `DatabaseUnavailable` when the outage outlasts the backoff budget.
        """
        if answer.saving is not None:
            # Shielded: a cancelled turn still lets its last checkpoint land before the final write.
            await asyncio.shield(answer.saving)
        text = answer.text
        usage = answer.outcome.usage
        token_count = self.context.counter.count(text)

        async def write() -> None:
            connection, answer.connection = answer.connection, None  # a retry takes a fresh connection
            await self.messages.finish(
                answer.id,
                content=text,
                status=status,
                reason=reason,
                token_count=token_count,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                connection=connection,
            )

        await write_until_stored(write, what=f"answer {answer.id}", sleep=self.sleep)
        self._remember(answer, status, reason, token_count)

    def _remember(self, answer: AnswerDraft, status: MessageStatus, reason: str, token_count: int) -> None:
        """Add the finished answer to the cached window, as the next turn would read it from the database."""
        window = self.windows.peek(answer.conversation_id)
        if window is None:
            return
        if status == MessageStatus.FAILED:
            window.last_id = answer.id  # failed answers stay out of the context
            return
        row = ContextRow(answer.id, "assistant", answer.text, answer.created_at, token_count, status.value, reason, [])
        window.append(self.context.entry(row, zone(window.zone)))
