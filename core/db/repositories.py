"""Small repositories: the queries the core runs, each in its own short transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models import Conversation, Identity, Message, User
from core.types import ConversationRef, PlatformIdentity


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    display_name: str
    timezone: str | None
    settings: dict[str, Any]
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ContextRow:
    """The columns the context builder needs of a stored message."""

    id: int
    role: str
    content: str
    created_at: datetime
    token_count: int
    status: str
    status_reason: str
    attachments: list[Any]
    author_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class StartedTurn:
    """What storing the start of a turn tells the core."""

    user_row: ContextRow
    answer_id: int
    answer_created_at: datetime
    previous_last_id: int | None  # the conversation's newest message before this turn
    revision: int


class UserRepository:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    async def resolve(self, identity: PlatformIdentity) -> UserRecord:
        """The user behind a platform account, created on first contact."""
        found = await self.find(identity)
        if found is not None:
            return found
        try:
            async with self.db.session() as session, session.begin():
                user = User(
                    display_name=identity.display_name or identity.user_id, settings={}, created_at=self.clock()
                )
                session.add(user)
                await session.flush()
                session.add(
                    Identity(
                        user_id=user.id,
                        platform=identity.platform,
                        workspace=identity.workspace,
                        platform_user_id=identity.user_id,
                        display_name=identity.display_name,
                        created_at=self.clock(),
                    )
                )
            return UserRecord(user.id, user.display_name, user.timezone, user.settings, user.email)
        except IntegrityError:
            # Another task created the same account a moment ago.
            found = await self.find(identity)
            assert found is not None
            return found

    async def find(self, identity: PlatformIdentity) -> UserRecord | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(User.id, User.display_name, User.timezone, User.settings, User.email)
                    .join(Identity, Identity.user_id == User.id)
                    .where(
                        Identity.platform == identity.platform,
                        Identity.workspace == identity.workspace,
                        Identity.platform_user_id == identity.user_id,
                    )
                )
            ).first()
        return UserRecord(row.id, row.display_name, row.timezone, row.settings or {}, row.email) if row else None

    async def set_timezone(self, user_id: int, timezone: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(update(User).where(User.id == user_id).values(timezone=timezone))


class ConversationRepository:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    async def open_for(self, ref: ConversationRef, user_id: int, *, connection: AsyncConnection | None = None) -> int:
        """The id of the open conversation at this place, started if there is none."""
        existing = await self.find_open(ref, connection=connection)
        if existing is not None:
            return existing
        try:
            async with _writing(self.db, connection) as writer:
                created = await writer.scalar(
                    insert(Conversation).returning(Conversation.id),
                    {**_place_params(ref), "user_id": user_id, "created_at": self.clock(), "revision": 0},
                )
            assert created is not None
            return int(created)
        except IntegrityError:
            # Another process started one a moment ago.
            existing = await self.find_open(ref)
            assert existing is not None
            return existing

    async def find_open(self, ref: ConversationRef, *, connection: AsyncConnection | None = None) -> int | None:
        async with _reading(self.db, connection) as reader:
            return await reader.scalar(_FIND_OPEN, _place_params(ref))

    async def owner_of(self, conversation_id: int) -> int | None:
        """The user a conversation belongs to."""
        async with self.db.engine.connect() as reader:
            return await reader.scalar(select(Conversation.user_id).where(Conversation.id == conversation_id))

    async def close(self, ref: ConversationRef, *, connection: AsyncConnection | None = None) -> bool:
        """Close the open conversation at this place; the next message starts a new one."""
        async with _writing(self.db, connection) as writer:
            result = await writer.execute(
                update(Conversation).where(_place(ref), Conversation.closed_at.is_(None)).values(closed_at=self.clock())
            )
        return bool(result.rowcount)


@asynccontextmanager
async def _writing(db: Database, connection: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """A transaction of our own, or the caller's autocommit connection (each statement atomic)."""
    if connection is not None:
        yield connection
    else:
        async with db.engine.begin() as own:
            yield own


@asynccontextmanager
async def _reading(db: Database, connection: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    if connection is not None:
        yield connection
    else:
        async with db.engine.connect() as own:
            yield own


def _place_params(ref: ConversationRef) -> dict[str, str]:
    return {"platform": ref.platform, "workspace": ref.workspace, "channel": ref.channel, "thread": ref.thread}


_FIND_OPEN = select(Conversation.id).where(
    Conversation.platform == bindparam("platform"),
    Conversation.workspace == bindparam("workspace"),
    Conversation.channel == bindparam("channel"),
    Conversation.thread == bindparam("thread"),
    Conversation.closed_at.is_(None),
)


def _place(ref: ConversationRef) -> Any:
    return and_(
        Conversation.platform == ref.platform,
        Conversation.workspace == ref.workspace,
        Conversation.channel == ref.channel,
        Conversation.thread == ref.thread,
    )


async def bump_conversation_revision(session: Any, message_id: int) -> None:
    """Tell every process that a conversation's stored messages changed in place."""
    conversation_id = select(Message.conversation_id).where(Message.id == message_id).scalar_subquery()
    await session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(revision=Conversation.revision + 1)
    )


from core.db.messages import MessageRepository  # noqa: E402  (re-exported: the repositories live side by side)

__all__ = [
    "ContextRow",
    "ConversationRepository",
    "MessageRepository",
    "StartedTurn",
    "UserRecord",
    "UserRepository",
]
