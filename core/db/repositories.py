"""Small repositories: the queries the core runs, each in its own short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.messages import MessageRepository  # re-exported: the repositories live side by side
from core.db.models import Conversation, Identity, User
from core.db.shared import ContextRow, StartedTurn, place_filter, reading, writing
from core.types import ConversationRef, PlatformIdentity


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    display_name: str
    timezone: str | None
    settings: dict[str, Any]
    email: str | None = None


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
            async with writing(self.db, connection) as writer:
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
        async with reading(self.db, connection) as reader:
            return await reader.scalar(_FIND_OPEN, _place_params(ref))

    async def owner_of(self, conversation_id: int) -> int | None:
        """The user a conversation belongs to."""
        async with self.db.engine.connect() as reader:
            return await reader.scalar(select(Conversation.user_id).where(Conversation.id == conversation_id))

    async def close(self, ref: ConversationRef, *, connection: AsyncConnection | None = None) -> bool:
        """Close the open conversation at this place; the next message starts a new one."""
        async with writing(self.db, connection) as writer:
            result = await writer.execute(
                update(Conversation)
                .where(place_filter(ref), Conversation.closed_at.is_(None))
                .values(closed_at=self.clock())
            )
        return bool(result.rowcount)


def _place_params(ref: ConversationRef) -> dict[str, str]:
    return {"platform": ref.platform, "workspace": ref.workspace, "channel": ref.channel, "thread": ref.thread}


_FIND_OPEN = select(Conversation.id).where(
    Conversation.platform == bindparam("platform"),
    Conversation.workspace == bindparam("workspace"),
    Conversation.channel == bindparam("channel"),
    Conversation.thread == bindparam("thread"),
    Conversation.closed_at.is_(None),
)


__all__ = [
    "ContextRow",
    "ConversationRepository",
    "MessageRepository",
    "StartedTurn",
    "UserRecord",
    "UserRepository",
]
