"""One person's messages across every platform, newest first, a page at a time (keyset, never OFFSET).

Messages are in the order they were written (``created_at``, then id for equal times), not
in the order they were stored: a history imported later (``captainslog import-chatgpt``)
sits at its own dates. A page is "the ``limit`` messages written before message ``before``"
(or from message ``start`` on): the cursor is that message's (time, id), found through the
index on (created_at, id), so a page's cost does not grow with how far back the reader is.
Only the person's own conversations are read, and in them their own words and the
assistant's (another person's words in a shared thread stay theirs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, literal, or_, select, tuple_

from core.db.database import Database
from core.db.models import Conversation, Message


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One stored message and where it was written."""

    id: int
    conversation_id: int
    platform: str
    workspace: str
    channel: str
    thread: str
    role: str
    text: str
    status: str
    created_at: datetime
    platform_message_id: str | None
    edited_at: datetime | None
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """One of a person's conversations, with how many messages it holds and the last one's time."""

    id: int
    platform: str
    created_at: datetime
    closed_at: datetime | None
    messages: int
    last_at: datetime | None


def _visible(user_id: int, *, by_time: bool = False):  # type: ignore[no-untyped-def]
    # by_time (SQLite): "user_id + 0" keeps SQLite off the user_id index, which would read every message of the
    # person and sort them all (700 ms at 100,000); it then walks the (created_at, id) index from the newest
    # and stops at the page's end (about 1 ms). PostgreSQL's planner makes that choice from its statistics.
    return and_(
        (Conversation.user_id + 0 if by_time else Conversation.user_id) == user_id,
        Message.forgotten_at.is_(None),
        or_(Message.role != "user", Message.author_user_id == user_id),
    )


async def timeline_page(
    db: Database,
    user_id: int,
    *,
    before: int | None = None,
    start: int | None = None,
    limit: int = 50,
    conversation_id: int | None = None,
    platform: str | None = None,
) -> list[TimelineEntry]:
    """Up to ``limit`` of the person's messages, newest first: those written before message ``before``, or
    from message ``start`` on (it included); all when neither is given.

    A cursor message that is not the person's gives an empty page (nothing about it is revealed);
    ``conversation_id`` narrows to one conversation (one that is not the person's gives an empty page)."""
    by_time = db.dialect == "sqlite" and conversation_id is None
    query = (
        select(*_ENTRY)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(_visible(user_id, by_time=by_time), Message.role.in_(("user", "assistant")))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(max(1, min(limit, 200)))
    )
    cursor_id = before if before is not None else start
    async with db.engine.connect() as conn:
        if cursor_id is not None:
            at = await conn.scalar(_own(user_id, cursor_id))
            if at is None:
                return []
            # One row-value comparison: both databases read it as a range of the (created_at, id) index.
            key, cursor = (
                tuple_(Message.created_at, Message.id),
                tuple_(literal(at, Message.created_at.type), cursor_id),
            )
            query = query.where(key < cursor if before is not None else key <= cursor)
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        if platform:
            query = query.where(Conversation.platform == platform)
        rows = (await conn.execute(query)).all()
    return [TimelineEntry(*row) for row in rows]


_ENTRY = (
    Message.id,
    Message.conversation_id,
    Conversation.platform,
    Conversation.workspace,
    Conversation.channel,
    Conversation.thread,
    Message.role,
    Message.content,
    Message.status,
    Message.created_at,
    Message.platform_message_id,
    Message.edited_at,
    Message.deleted_at,
)


def _own(user_id: int, message_id: int):  # type: ignore[no-untyped-def]
    """The time of one of the person's visible messages (no row when it is not theirs)."""
    return (
        select(Message.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id, _visible(user_id))
    )


async def message_of(db: Database, user_id: int, message_id: int) -> TimelineEntry | None:
    """One of the person's messages, or None when there is none of theirs with that id."""
    query = (
        select(*_ENTRY)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id, _visible(user_id), Message.role.in_(("user", "assistant")))
    )
    async with db.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return TimelineEntry(*row) if row is not None else None


async def conversations_of(db: Database, user_id: int, *, limit: int = 100) -> list[ConversationInfo]:
    """The person's conversations, most recently written in first."""
    last = func.max(Message.created_at)
    query = (
        select(
            Conversation.id,
            Conversation.platform,
            Conversation.created_at,
            Conversation.closed_at,
            func.count(Message.id),
            last,
        )
        .outerjoin(Message, and_(Message.conversation_id == Conversation.id, Message.forgotten_at.is_(None)))
        .where(Conversation.user_id == user_id)
        .group_by(Conversation.id)
        .order_by(func.coalesce(last, Conversation.created_at).desc(), Conversation.id.desc())
        .limit(limit)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [ConversationInfo(*row) for row in rows]


async def owns_conversation(db: Database, user_id: int, conversation_id: int) -> bool:
    """Whether the conversation is the person's."""
    async with db.engine.connect() as conn:
        found = await conn.execute(
            select(Conversation.id).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        )
        return found.first() is not None


@dataclass(frozen=True, slots=True)
class DayLogInfo:
    """One day's log of a person, as the web app lists it."""

    day: date
    state: str
    summary: str | None
    drive_link: str | None


async def daily_logs_of(db: Database, user_id: int, *, limit: int = 60) -> list[DayLogInfo]:
    """The person's daily logs, newest day first."""
    from core.db.models_daily import DailyLog

    query = (
        select(DailyLog.day, DailyLog.state, DailyLog.summary, DailyLog.drive_link)
        .where(DailyLog.user_id == user_id)
        .order_by(DailyLog.day.desc())
        .limit(limit)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [DayLogInfo(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class SummaryCard:
    """A summary in force (not folded into a higher one, not stale) and the exact range it replaces."""

    id: int
    conversation_id: int
    first_message_id: int
    last_message_id: int
    text: str
    covers_from: datetime
    covers_to: datetime


async def summaries_ending_at(db: Database, user_id: int, message_ids: list[int]) -> list[SummaryCard]:
    """The person's summaries in force whose range ends at one of ``message_ids`` (the messages of a page)."""
    from core.db.models_summaries import Summary

    query = (
        select(
            Summary.id,
            Summary.conversation_id,
            Summary.first_message_id,
            Summary.last_message_id,
            Summary.text,
            Summary.covers_from,
            Summary.covers_to,
        )
        .join(Conversation, Conversation.id == Summary.conversation_id)
        .where(
            Conversation.user_id == user_id,
            Summary.parent_id.is_(None),
            Summary.stale.is_(False),
            Summary.last_message_id.in_(message_ids),
        )
        .order_by(Summary.last_message_id.desc())
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [SummaryCard(*row) for row in rows]


async def newest_id_before(db: Database, user_id: int, moment: datetime) -> int | None:
    """The id of the person's newest message written before ``moment`` (to open the timeline at a date)."""
    query = select(Message.id).join(Conversation, Conversation.id == Message.conversation_id)
    by_time = db.dialect == "sqlite"
    query = query.where(
        _visible(user_id, by_time=by_time), Message.role.in_(("user", "assistant")), Message.created_at < moment
    )
    query = query.order_by(Message.created_at.desc(), Message.id.desc()).limit(1)
    async with db.engine.connect() as conn:
        return await conn.scalar(query)


async def newer_start(
    db: Database, user_id: int, first_id: int, limit: int = 50, *, platform: str | None = None
) -> int | None:
    """Where the page of the ``limit`` messages written after message ``first_id`` starts (the newest of them, a
    ``start`` cursor for :func:`timeline_page`), or None when nothing of the person's is newer."""
    async with db.engine.connect() as conn:
        at = await conn.scalar(_own(user_id, first_id))
        if at is None:
            return None
        key = tuple_(Message.created_at, Message.id)
        query = (
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                _visible(user_id, by_time=db.dialect == "sqlite"),
                Message.role.in_(("user", "assistant")),
                key > tuple_(literal(at, Message.created_at.type), first_id),
            )
            .order_by(Message.created_at, Message.id)
            .limit(max(1, min(limit, 200)))
        )
        if platform:
            query = query.where(Conversation.platform == platform)
        ids = (await conn.scalars(query)).all()
    return int(ids[-1]) if ids else None
