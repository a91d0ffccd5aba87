"""Rolling summaries: fold the oldest messages that no longer fit into summaries, keep every message stored.

After an answer, when the part of a conversation no summary covers costs more
than ``trigger`` tokens, the oldest part of it (all but the newest ``keep``
tokens) becomes a summary.  When summaries together pass ``summary_share``
tokens, the older ones fold into one summary a level up.  An edit or deletion
inside a summarised range marks the summaries around it stale; they are
rewritten from the messages as they read now.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.summaries.repository import RangeMessage, SummaryRecord, SummaryRepository
from core.summaries.writer import SummaryWriter
from core.tokens import TokenCounter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SummaryBudget:
    """Token thresholds, derived from the context budget by :meth:`for_context`."""

    trigger: int  # summarise once the uncovered messages cost more than this
    keep: int  # ...leaving this much of the newest messages verbatim
    summary_share: int  # fold summaries together once they cost more than this
    max_input: int  # the most message tokens one summary call reads
    per_message: int  # framing and stamp cost of one message

    @classmethod
    def for_context(cls, token_budget: int, per_message: int) -> SummaryBudget:
        return cls(
            trigger=int(token_budget * 0.8),
            keep=int(token_budget * 0.45),
            summary_share=int(token_budget * 0.15),
            max_input=max(2_000, int(token_budget * 0.75)),
            per_message=per_message,
        )


class RollingSummaries:
    """Writes, folds and rewrites the summaries of conversations."""

    def __init__(
        self,
        repository: SummaryRepository,
        writer: SummaryWriter,
        counter: TokenCounter,
        budget: SummaryBudget,
        *,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.writer = writer
        self.counter = counter
        self.budget = budget
        self.clock = clock
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def update(self, conversation_id: int, *, user_name: str, tz: ZoneInfo) -> None:
        """Bring the conversation's summaries up to date (one conversation at a time in this process)."""
        async with self._locks[conversation_id]:
            await self._rewrite_stale(conversation_id, user_name, tz)
            await self._summarise_overflow(conversation_id, user_name, tz)
            await self._fold(conversation_id, user_name, tz)

    async def mark_changed(self, conversation_id: int, message_id: int | None) -> int:
        """A message in this conversation changed (None: several did): the summaries holding it are stale."""
        return await self.repository.mark_stale(conversation_id, message_id)

    async def _summarise_overflow(self, conversation_id: int, user_name: str, tz: ZoneInfo) -> None:
        chain = await self.repository.chain(conversation_id)
        floor = chain[-1].last_message_id if chain else 0
        newest_first = await self.repository.messages_after(conversation_id, floor, newest_first=True)
        cost = [m.token_count + self.budget.per_message for m in newest_first]
        if sum(cost) <= self.budget.trigger:
            return
        kept, used = 0, 0
        while kept < len(newest_first) and used + cost[kept] <= self.budget.keep:
            used += cost[kept]
            kept += 1
        fold = newest_first[kept:][::-1]  # oldest first
        if not chain:
            # A long history from before summaries existed: start from its most recent stretch.
            fold = _newest_within(fold, self.budget.max_input, self.budget.per_message)
        for chunk in _chunks(fold, self.budget.max_input, self.budget.per_message):
            text = await self.writer.of_messages(chunk, user_name=user_name, tz=tz)
            await self._store(conversation_id, chunk[0].id, chunk[-1].id, 0, text, chunk[0], chunk[-1])

    async def _fold(self, conversation_id: int, user_name: str, tz: ZoneInfo) -> None:
        chain = [s for s in await self.repository.chain(conversation_id) if not s.stale]
        if len(chain) < 3 or sum(s.token_count for s in chain) <= self.budget.summary_share:
            return
        older = chain[:-1]  # the newest summary stays as it is
        text = await self.writer.of_summaries(older, user_name=user_name, tz=tz)
        await self.repository.add(
            conversation_id,
            first_id=older[0].first_message_id,
            last_id=older[-1].last_message_id,
            level=max(s.level for s in older) + 1,
            text=text,
            token_count=self.counter.count(text),
            model=self.writer.model_name,
            covers_from=older[0].covers_from,
            covers_to=older[-1].covers_to,
            now=self.clock(),
            children=[s.id for s in older],
        )

    async def _rewrite_stale(self, conversation_id: int, user_name: str, tz: ZoneInfo) -> None:
        for summary in await self.repository.stale(conversation_id):
            if summary.level == 0:
                messages = await self.repository.messages_between(
                    conversation_id, summary.first_message_id, summary.last_message_id
                )
                text = (
                    await self.writer.of_messages(messages, user_name=user_name, tz=tz)
                    if messages
                    else "(The messages of this stretch were deleted.)"
                )
            else:
                text = await self.writer.of_summaries(
                    await self.repository.children(summary.id), user_name=user_name, tz=tz
                )
            await self.repository.rewrite(
                summary.id,
                text=text,
                token_count=self.counter.count(text),
                model=self.writer.model_name,
                now=self.clock(),
            )
            log.info("summary %s of conversation %s rewritten after an edit", summary.id, conversation_id)

    async def _store(
        self, conversation_id: int, first: int, last: int, level: int, text: str, start: RangeMessage, end: RangeMessage
    ) -> None:
        stored = await self.repository.add(
            conversation_id,
            first_id=first,
            last_id=last,
            level=level,
            text=text,
            token_count=self.counter.count(text),
            model=self.writer.model_name,
            covers_from=start.created_at,
            covers_to=end.created_at,
            now=self.clock(),
        )
        if stored is not None:
            log.info("conversation %s: messages %s..%s summarised", conversation_id, first, last)


def _newest_within(messages: Sequence[RangeMessage], limit: int, per_message: int) -> list[RangeMessage]:
    chosen: list[RangeMessage] = []
    used = 0
    for message in reversed(messages):
        used += message.token_count + per_message
        if chosen and used > limit:
            break
        chosen.append(message)
    return chosen[::-1]


def _chunks(messages: Sequence[RangeMessage], limit: int, per_message: int) -> list[list[RangeMessage]]:
    chunks: list[list[RangeMessage]] = []
    current: list[RangeMessage] = []
    used = 0
    for message in messages:
        cost = message.token_count + per_message
        if current and used + cost > limit:
            chunks.append(current)
            current, used = [], 0
        current.append(message)
        used += cost
    if current:
        chunks.append(current)
    return chunks


def usable_prefix(chain: Sequence[SummaryRecord]) -> list[SummaryRecord]:
    """The summaries the model may use: in order, up to the first stale one (its range is not trustworthy)."""
    usable: list[SummaryRecord] = []
    for summary in chain:
        if summary.stale:
            break
        usable.append(summary)
    return usable
