"""Summary rows and the message ranges they stand for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.db.database import Database
from core.db.models import Message
from core.db.models_summaries import Summary
from core.types import MessageStatus

_IN_CONTEXT = and_(
    Message.deleted_at.is_(None),
    Message.forgotten_at.is_(None),
    or_(Message.status == MessageStatus.COMPLETE, Message.status == MessageStatus.PARTIAL),
)


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    id: int
    first_message_id: int
    last_message_id: int
    level: int
    text: str
    token_count: int
    covers_from: datetime
    covers_to: datetime
    stale: bool


@dataclass(frozen=True, slots=True)
class RangeMessage:
    """A stored message as a summary reads it."""

    id: int
    role: str
    content: str
    created_at: datetime
    token_count: int


_COLUMNS = (
    Summary.id,
    Summary.first_message_id,
    Summary.last_message_id,
    Summary.level,
    Summary.text,
    Summary.token_count,
    Summary.covers_from,
    Summary.covers_to,
    Summary.stale,
)


class SummaryRepository:
    """Reads and writes ``summaries``; never changes a message."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Where this process is the database's only writer (SQLite), conversations known to have
        # no summary yet: most have none, and asking costs a query before every first token.
        # Only this repository adds summaries, so the set stays true until ``add``.
        self._none_yet: set[int] | None = set() if db.dialect == "sqlite" else None
        self._added: dict[int, int] = {}  # summaries added per conversation, to spot an add during a read

    async def chain(self, conversation_id: int) -> list[SummaryRecord]:
        """The top-level summaries of a conversation (not folded into another), oldest range first."""
        if self._none_yet is not None and conversation_id in self._none_yet:
            return []
        added = self._added.get(conversation_id, 0)
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(
                select(*_COLUMNS)
                .where(Summary.conversation_id == conversation_id, Summary.parent_id.is_(None))
                .order_by(Summary.first_message_id)
            )
            chain = [SummaryRecord(*row) for row in rows]
        if not chain and self._none_yet is not None and self._added.get(conversation_id, 0) == added:
            self._none_yet.add(conversation_id)
        return chain

    async def children(self, summary_id: int) -> list[SummaryRecord]:
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(
                select(*_COLUMNS).where(Summary.parent_id == summary_id).order_by(Summary.first_message_id)
            )
            return [SummaryRecord(*row) for row in rows]

    async def stale(self, conversation_id: int) -> list[SummaryRecord]:
        """Stale summaries, lowest level first (children are rewritten before the summaries folding them)."""
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(
                select(*_COLUMNS)
                .where(Summary.conversation_id == conversation_id, Summary.stale.is_(True))
                .order_by(Summary.level, Summary.first_message_id)
            )
            return [SummaryRecord(*row) for row in rows]

    async def messages_after(self, conversation_id: int, after_id: int, *, newest_first: bool) -> list[RangeMessage]:
        """In-context messages with an id above ``after_id`` (the part no summary covers yet)."""
        order = Message.id.desc() if newest_first else Message.id
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(
                select(Message.id, Message.role, Message.content, Message.created_at, Message.token_count)
                .where(Message.conversation_id == conversation_id, Message.id > after_id, _IN_CONTEXT)
                .order_by(order)
            )
            return [RangeMessage(*row) for row in rows]

    async def messages_between(self, conversation_id: int, first_id: int, last_id: int) -> list[RangeMessage]:
        """The in-context messages of a range, oldest first, as they read now (edits applied)."""
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(
                select(Message.id, Message.role, Message.content, Message.created_at, Message.token_count)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.id >= first_id,
                    Message.id <= last_id,
                    _IN_CONTEXT,
                )
                .order_by(Message.id)
            )
            return [RangeMessage(*row) for row in rows]

    async def add(
        self,
        conversation_id: int,
        *,
        first_id: int,
        last_id: int,
        level: int,
        text: str,
        token_count: int,
        model: str,
        covers_from: datetime,
        covers_to: datetime,
        now: datetime,
        children: Sequence[int] = (),
    ) -> int | None:
        """Store a summary (and fold ``children`` into it); None when another writer stored this range first."""
        try:
            async with self.db.session() as session, session.begin():
                row = Summary(
                    conversation_id=conversation_id,
                    first_message_id=first_id,
                    last_message_id=last_id,
                    level=level,
                    text=text,
                    token_count=token_count,
                    model=model,
                    covers_from=covers_from,
                    covers_to=covers_to,
                    created_at=now,
                    updated_at=now,
                    stale=False,
                )
                session.add(row)
                await session.flush()
                if children:
                    await session.execute(update(Summary).where(Summary.id.in_(children)).values(parent_id=row.id))
                return row.id
        except IntegrityError:
            return None
        finally:
            self._added[conversation_id] = self._added.get(conversation_id, 0) + 1
            if self._none_yet is not None:
                self._none_yet.discard(conversation_id)

    async def rewrite(self, summary_id: int, *, text: str, token_count: int, model: str, now: datetime) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Summary)
                .where(Summary.id == summary_id)
                .values(text=text, token_count=token_count, model=model, updated_at=now, stale=False)
            )

    async def mark_stale(self, conversation_id: int, message_id: int | None = None) -> int:
        """Mark every summary whose range holds ``message_id`` (every summary when None) stale."""
        condition = Summary.conversation_id == conversation_id
        if message_id is not None:
            condition = and_(condition, Summary.first_message_id <= message_id, Summary.last_message_id >= message_id)
        async with self.db.session() as session, session.begin():
            result = await session.execute(update(Summary).where(condition).values(stale=True))
        return int(result.rowcount or 0)
