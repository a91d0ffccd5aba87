"""Small repositories: the queries the core runs, each in its own short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.messages import MessageRepository  # re-exported: the repositories live side by side
from core.db.models import Conversation, Identity, User
from core.db.shared import ContextRow, StartedTurn, place_filter, reading, write
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
        return await self.find_or_create(identity)

    async def find_or_create(self, identity: PlatformIdentity, *, used_at: datetime | None = None) -> UserRecord:
        """The user behind an account, created with it when the account is new: one transaction.

        ``used_at`` marks the account as used (found or created), sparing a separate write. When
        another task or process created the account a moment ago, its user is returned.
        """
        now = self.clock()
        name = identity.display_name or identity.user_id

        def find_or_store(writer: Connection) -> UserRecord:
            row = writer.execute(_FIND_USER, _identity_params(identity)).first()
            if row is not None:
                if used_at is not None:
                    used = {
                        "b_platform": identity.platform,
                        "b_workspace": identity.workspace,
                        "b_user_id": identity.user_id,
                    }
                    writer.execute(_USED, {**used, "used_at": used_at})
                return UserRecord(row.id, row.display_name, row.timezone, row.settings or {}, row.email)
            user_id = writer.scalar(
                insert(User).returning(User.id), {"display_name": name, "settings": {}, "created_at": now}
            )
            writer.execute(
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
            return UserRecord(int(user_id), name, None, {}, None)  # type: ignore[arg-type]

        try:
            return await self.db.write(find_or_store)
        except IntegrityError:
            found = await self.find(identity)  # another task created the same account a moment ago
            assert found is not None
            return found

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
        """The id of the open conversation at this place, started if there is none (one transaction)."""
        place = _place_params(ref)

        def find_or_start(writer: Connection) -> int:
            existing = writer.scalar(_FIND_OPEN, place)
            if existing is not None:
                return int(existing)
            values = {**place, "user_id": user_id, "created_at": self.clock(), "revision": 0}
            return int(writer.scalar(insert(Conversation).returning(Conversation.id), values))  # type: ignore[arg-type]

        try:
            return await write(self.db, connection, find_or_start)
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
        statement = (
            update(Conversation)
            .where(place_filter(ref), Conversation.closed_at.is_(None))
            .values(closed_at=self.clock())
        )
        result = await write(self.db, connection, lambda writer: writer.execute(statement))
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


_USED = (
    update(Identity)
    .where(
        Identity.platform == bindparam("b_platform"),
        Identity.workspace == bindparam("b_workspace"),
        Identity.platform_user_id == bindparam("b_user_id"),
    )
    .values(last_used_at=bindparam("used_at"))
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
