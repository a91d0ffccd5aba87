"""Small repositories: the queries the core runs, each in its own short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
        return found if found is not None else await self.create(identity)

    async def create(self, identity: PlatformIdentity, *, used_at: datetime | None = None) -> UserRecord:
        """Create the user of an account the caller just found unknown (one transaction: user and account).

        ``used_at`` marks the account as used at creation, sparing a separate write. When another
        task or process created the account a moment ago, its user is returned.
        """
        now = self.clock()
        name = identity.display_name or identity.user_id
        try:
            async with self.db.engine.begin() as writer:
                user_id = await writer.scalar(
                    insert(User).returning(User.id), {"display_name": name, "settings": {}, "created_at": now}
                )
                await writer.execute(
                    insert(Identity),
                    {
                        "user_id": user_id,
                        "platform": identity.platform,
                        "workspace": identity.workspace,
                        "platform_user_id": identity.user_id,
                        "display_name": identity.display_name,
                        "created_at": now,
                        "last_used_at": used_at,
                    },
                )
        except IntegrityError:
            found = await self.find(identity)  # another task created the same account a moment ago
            assert found is not None
            return found
        return UserRecord(int(user_id), name, None, {}, None)

    async def find(self, identity: PlatformIdentity) -> UserRecord | None:
        """The user behind a platform account, or None for an account never seen."""
        async with self.db.engine.connect() as reader:
            row = (await reader.execute(_FIND_USER, _identity_params(identity))).first()
        return UserRecord(row.id, row.display_name, row.timezone, row.settings or {}, row.email) if row else None

    async def get(self, user_id: int) -> UserRecord | None:
        """The user with this id, or None."""
        async with self.db.session() as session:
            user = await session.get(User, user_id, populate_existing=True)
            if user is None:
                return None
            return UserRecord(user.id, user.display_name, user.timezone, dict(user.settings or {}), user.email)

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

    async def of_user(self, user_id: int) -> list[tuple[int, ConversationRef, bool]]:
        """Every conversation of a user: its id, its place and whether it is still open."""
        columns = (Conversation.id, Conversation.platform, Conversation.workspace, Conversation.channel)
        query = select(*columns, Conversation.thread, Conversation.closed_at).where(Conversation.user_id == user_id)
        async with self.db.engine.connect() as reader:
            rows = (await reader.execute(query)).all()
        return [
            (row.id, ConversationRef(row.platform, row.workspace, row.channel, row.thread), row.closed_at is None)
            for row in rows
        ]

    async def close(self, ref: ConversationRef, *, connection: AsyncConnection | None = None) -> bool:
        """Close the open conversation at this place; the next message starts a new one."""
        async with writing(self.db, connection) as writer:
            result = await writer.execute(
                update(Conversation)
                .where(place_filter(ref), Conversation.closed_at.is_(None))
                .values(closed_at=self.clock())
            )
        return bool(result.rowcount)


_FIND_USER = (
    select(User.id, User.display_name, User.timezone, User.settings, User.email)
    .join(Identity, Identity.user_id == User.id)
    .where(
        Identity.platform == bindparam("platform"),
        Identity.workspace == bindparam("workspace"),
        Identity.platform_user_id == bindparam("user_id"),
    )
)


def _identity_params(identity: PlatformIdentity) -> dict[str, str]:
    return {"platform": identity.platform, "workspace": identity.workspace, "user_id": identity.user_id}


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
