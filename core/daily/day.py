"""A user's day: every message they wrote and every answer to them, between two local midnights.

Across every platform and conversation. In a shared thread only the user's own
messages and the answers to them belong to their day: an answer belongs to the
author of the user message just before it in its conversation (turns of one
conversation run one at a time, and a turn stores the question and its answer
together, so that message is the question it answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.timefmt import zone
from core.types import MessageStatus

ROLES = ("user", "assistant")


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One stored message of the day."""

    id: int
    role: str
    content: str
    created_at: datetime  # aware UTC
    platform: str
    cut_off: bool = False  # an answer stopped before it was finished (stored as partial)


@dataclass(frozen=True, slots=True)
class DayPerson:
    """What the daily log needs to know of a user."""

    id: int
    display_name: str
    timezone: ZoneInfo
    settings: dict


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of the local midnights that open and close `day` (23 or 25 hours around DST)."""
    start = datetime.combine(day, time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    return start, end


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The user's calendar date at `moment`."""
    return moment.astimezone(tz).date()


def _speaker():  # noqa: ANN202 - a SQL expression
    """Whose day a message belongs to: its author, or for an answer the author of the question before it."""
    question = aliased(Message)
    asked_by = (
        select(question.author_user_id)
        .where(
            question.conversation_id == Message.conversation_id,
            question.id < Message.id,
            question.role == "user",
        )
        .order_by(question.id.desc())
        .limit(1)
        .correlate(Message)
        .scalar_subquery()
    )
    return case(
        (Message.role == "user", func.coalesce(Message.author_user_id, Conversation.user_id)),
        else_=func.coalesce(asked_by, Conversation.user_id),
    )


def _visible():  # noqa: ANN202 - a SQL expression
    # Deleted and /forget-ten messages stay out of the day as they stay out of the model's context.
    return and_(Message.deleted_at.is_(None), Message.forgotten_at.is_(None), Message.role.in_(ROLES))


class DayReader:
    """Reads users' days from the messages table."""

    def __init__(self, db: Database, *, default_timezone: str = "UTC") -> None:
        self.db = db
        self.default_timezone = default_timezone

    async def person(self, user_id: int) -> DayPerson | None:
        """The user's name, time zone (or the default) and settings; None when the user is gone."""
        async with self.db.engine.connect() as reader:
            row = (
                await reader.execute(
                    select(User.id, User.display_name, User.timezone, User.settings).where(User.id == user_id)
                )
            ).first()
        if row is None:
            return None
        return DayPerson(row.id, row.display_name or "", zone(row.timezone, self.default_timezone), row.settings or {})

    async def entries(self, user_id: int, day: date, tz: ZoneInfo) -> list[DayEntry]:
        """The day's messages in time order, in one query."""
        start, end = day_bounds(day, tz)
        # Conversations the user took part in that day: their own, and shared threads they wrote in.
        wrote_in = (
            select(Message.conversation_id)
            .where(Message.author_user_id == user_id, Message.created_at >= start, Message.created_at < end)
            .scalar_subquery()
        )
        statement = (
            select(Message.id, Message.role, Message.content, Message.created_at, Message.status, Conversation.platform)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.created_at >= start,
                Message.created_at < end,
                _visible(),
                or_(Conversation.user_id == user_id, Message.conversation_id.in_(wrote_in)),
                _speaker() == user_id,
            )
            .order_by(Message.created_at, Message.id)
        )
        async with self.db.engine.connect() as reader:
            rows = (await reader.execute(statement)).all()
        return [
            DayEntry(r.id, r.role, r.content or "", r.created_at, r.platform, cut_off=r.status == MessageStatus.PARTIAL)
            for r in rows
        ]

    async def has_messages(self, user_id: int, day: date, tz: ZoneInfo) -> bool:
        """Whether the user wrote anything that day (a day with no messages produces nothing)."""
        start, end = day_bounds(day, tz)
        statement = select(
            exists().where(
                Message.author_user_id == user_id,
                Message.role == "user",
                Message.created_at >= start,
                Message.created_at < end,
                Message.deleted_at.is_(None),
                Message.forgotten_at.is_(None),
            )
        )
        async with self.db.engine.connect() as reader:
            return bool(await reader.scalar(statement))

    async def active_users(self, since: datetime) -> list[DayPerson]:
        """Users who wrote at least one message since `since` (the scheduler's candidates)."""
        writers = (
            select(Message.author_user_id)
            .where(Message.role == "user", Message.created_at >= since, Message.author_user_id.is_not(None))
            .distinct()
            .scalar_subquery()
        )
        async with self.db.engine.connect() as reader:
            rows = (
                await reader.execute(
                    select(User.id, User.display_name, User.timezone, User.settings)
                    .where(User.id.in_(writers))
                    .order_by(User.id)
                )
            ).all()
        return [DayPerson(r.id, r.display_name or "", zone(r.timezone, self.default_timezone), r.settings or {})
                for r in rows]  # fmt: skip

    async def last_message_before(self, user_id: int, message_id: int) -> datetime | None:
        """When the user last wrote before message `message_id` (any platform or conversation)."""
        # Newest first along the (author, created_at) index: the row before this turn's is the answer.
        statement = (
            select(Message.created_at)
            .where(Message.author_user_id == user_id, Message.id < message_id)
            .order_by(Message.created_at.desc())
            .limit(1)
        )
        async with self.db.engine.connect() as reader:
            return await reader.scalar(statement)
