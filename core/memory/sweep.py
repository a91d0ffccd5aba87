"""The memory sweep: catches up, in the background, on what a model outage left undone.

After-answer steps embed the turn's messages and extract memories from the user's
message; when the model is down they give up quickly instead of retrying for
long. What they left is found again here, every ``interval`` seconds of the injected
clock: messages without an embedding (found in the database: nothing to record) and
extractions recorded as owed in ``pending_extractions``. Each pass handles at most
``batch`` of each, so a long outage is caught up on a little at a time. The loop is a
loop of the process's task group (``BackgroundTasks.spawn_loop``) and ends when it drains.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, func, insert, select, update

from core.clock import Clock, Sleep
from core.db.database import Database
from core.db.models import Conversation, Message
from core.db.models_extraction import PendingExtraction
from core.db.models_memory import MessageEmbedding
from core.llm import ModelError
from core.memory.store import MemoryStore, _indexable
from core.timefmt import zone

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0
SWEEP_BATCH = 64
# ModelError kinds that mean "the model is away for now": worth asking again later.
OUTAGE_KINDS = frozenset({"rate_limit", "timeout", "unreachable", "unavailable", "broken_stream"})

# (user id, user message id, its text, when it was written, the user's zone) → memories stored
Extract = Callable[[int, int, str, datetime, ZoneInfo], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one pass did: messages embedded, extractions done, and extractions still owed after it."""

    indexed: int
    extracted: int
    owed: int


class ExtractionBacklog:
    """The extractions owed (``pending_extractions``): recorded on failure, paid by the sweep."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def owe(self, user_id: int, message_id: int, timezone: str) -> None:
        """Record that the message's extraction failed (again)."""
        async with self.db.engine.begin() as conn:
            again = await conn.execute(
                update(PendingExtraction)
                .where(PendingExtraction.message_id == message_id)
                .values(attempts=PendingExtraction.attempts + 1)
            )
            if not again.rowcount:
                await conn.execute(
                    insert(PendingExtraction).values(
                        message_id=message_id, user_id=user_id, timezone=timezone, attempts=1, created_at=self.clock()
                    )
                )

    async def owed(self, limit: int) -> list[tuple[int, int, str, datetime, str]]:
        """Up to ``limit`` owed extractions, oldest first: (user, message, text, written at, zone).

        A message deleted or forgotten since is dropped from the backlog instead.
        """
        async with self.db.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(
                        PendingExtraction.user_id,
                        Message.id,
                        Message.content,
                        Message.created_at,
                        PendingExtraction.timezone,
                        Message.deleted_at.is_not(None) | Message.forgotten_at.is_not(None),
                    )
                    .join(Message, Message.id == PendingExtraction.message_id)
                    .order_by(PendingExtraction.message_id)
                    .limit(limit)
                )
            ).all()
            gone = [row[1] for row in rows if row[5] or not row[2]]
            if gone:
                await conn.execute(delete(PendingExtraction).where(PendingExtraction.message_id.in_(gone)))
        return [(row[0], row[1], row[2], row[3], row[4]) for row in rows if row[1] not in gone]

    async def paid(self, message_id: int) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(PendingExtraction).where(PendingExtraction.message_id == message_id))

    async def count(self) -> int:
        async with self.db.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(PendingExtraction)) or 0)


class MemorySweep:
    """Embeds unindexed messages and retries owed extractions, one bounded pass per interval."""

    def __init__(
        self,
        store: MemoryStore,
        backlog: ExtractionBacklog,
        extract: Extract | None,
        *,
        sleep: Sleep = asyncio.sleep,
        interval: float = SWEEP_INTERVAL,
        batch: int = SWEEP_BATCH,
    ) -> None:
        self.store = store
        self.backlog = backlog
        self.extract = extract
        self.sleep = sleep
        self.interval = interval
        self.batch = batch

    async def run(self, stopping: asyncio.Event) -> None:
        """Sweep every ``interval`` until ``stopping`` is set (start it with ``BackgroundTasks.spawn_loop``)."""
        while not stopping.is_set():
            napping = asyncio.ensure_future(self.sleep(self.interval))
            stopped = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait({napping, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                napping.cancel()
                stopped.cancel()
            if stopping.is_set():
                return
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - the next pass tries again; the database may be away
                log.warning("memory sweep failed; trying again in %g s", self.interval, exc_info=True)

    async def sweep_once(self) -> SweepResult:
        """One pass: at most ``batch`` messages embedded and ``batch`` extractions retried."""
        indexed = await self._index()
        extracted = await self._extract()
        owed = await self.backlog.count() if self.extract is not None else 0
        if indexed or extracted:
            log.info("memory sweep: %d messages indexed, %d extractions done, %d owed", indexed, extracted, owed)
        return SweepResult(indexed, extracted, owed)

    async def _index(self) -> int:
        done = 0
        for user_id in await self._users_with_unindexed():
            try:
                done += await self.store.index_pending(user_id, limit=self.batch - done)
            except ModelError as exc:
                log.info("memory sweep: the embedding endpoint still fails (%s)", exc)
                break
            if done >= self.batch:
                break
        return done

    async def _users_with_unindexed(self) -> list[int]:
        owner = case(
            (Message.role == "user", func.coalesce(Message.author_user_id, Conversation.user_id)),
            else_=Conversation.user_id,
        )
        async with self.store.db.engine.connect() as conn:
            rows = await conn.scalars(
                select(owner)
                .select_from(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .outerjoin(MessageEmbedding, MessageEmbedding.message_id == Message.id)
                .where(MessageEmbedding.id.is_(None), _indexable())
                .group_by(owner)
                .order_by(func.min(Message.id))
                .limit(self.batch)
            )
            return [int(user_id) for user_id in rows.all() if user_id is not None]

    async def _extract(self) -> int:
        if self.extract is None:
            return 0
        done = 0
        for user_id, message_id, text, written_at, timezone in await self.backlog.owed(self.batch):
            try:
                await self.extract(user_id, message_id, text, written_at, zone(timezone, "UTC"))
            except ModelError as exc:
                if exc.kind not in OUTAGE_KINDS:  # refused for good (the request itself): asking again won't help
                    log.warning("memory sweep: extraction of message %s refused, dropped (%s)", message_id, exc)
                    await self.backlog.paid(message_id)
                    continue
                log.info("memory sweep: extraction still fails (%s)", exc)
                await self.backlog.owe(user_id, message_id, timezone)
                break  # the model is still down: the rest waits for the next pass
            await self.backlog.paid(message_id)
            done += 1
        return done
