"""Small repositories: the queries the core runs, each in its own short transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.database import Database
from core.db.models import Conversation, Identity, Message, User, utcnow
from core.types import ConversationRef, MessageStatus, PlatformIdentity


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    display_name: str
    timezone: str | None
    settings: dict[str, Any]


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


@dataclass(frozen=True, slots=True)
class StartedTurn:
    """What storing the start of a turn tells the core."""

    user_row: ContextRow
    answer_id: int
    answer_created_at: datetime
    previous_last_id: int | None  # the conversation's newest message before this turn
    revision: int


class UserRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def resolve(self, identity: PlatformIdentity) -> UserRecord:
        """The user behind a platform account, created on first contact."""
        found = await self.find(identity)
        if found is not None:
            return found
        try:
            async with self.db.session() as session, session.begin():
                user = User(display_name=identity.display_name or identity.user_id, settings={})
                session.add(user)
                await session.flush()
                session.add(
                    Identity(
                        user_id=user.id,
                        platform=identity.platform,
                        workspace=identity.workspace,
                        platform_user_id=identity.user_id,
                        display_name=identity.display_name,
                    )
                )
            return UserRecord(user.id, user.display_name, user.timezone, user.settings)
        except IntegrityError:
            # Another task created the same account a moment ago.
            found = await self.find(identity)
            assert found is not None
            return found

    async def find(self, identity: PlatformIdentity) -> UserRecord | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(User.id, User.display_name, User.timezone, User.settings)
                    .join(Identity, Identity.user_id == User.id)
                    .where(
                        Identity.platform == identity.platform,
                        Identity.workspace == identity.workspace,
                        Identity.platform_user_id == identity.user_id,
                    )
                )
            ).first()
        return UserRecord(row.id, row.display_name, row.timezone, row.settings or {}) if row else None

    async def set_timezone(self, user_id: int, timezone: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(update(User).where(User.id == user_id).values(timezone=timezone))


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open_for(self, ref: ConversationRef, user_id: int, *, connection: AsyncConnection | None = None) -> int:
        """The id of the open conversation at this place, started if there is none."""
        existing = await self.find_open(ref, connection=connection)
        if existing is not None:
            return existing
        try:
            async with _writing(self.db, connection) as writer:
                created = await writer.scalar(
                    insert(Conversation).returning(Conversation.id),
                    {**_place_params(ref), "user_id": user_id, "created_at": utcnow(), "revision": 0},
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

    async def close(self, ref: ConversationRef, *, connection: AsyncConnection | None = None) -> bool:
        """Close the open conversation at this place; the next message starts a new one."""
        async with _writing(self.db, connection) as writer:
            result = await writer.execute(
                update(Conversation).where(_place(ref), Conversation.closed_at.is_(None)).values(closed_at=utcnow())
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


async def _bump_revision(session: Any, message_id: int) -> None:
    """Tell every process that a conversation's stored messages changed in place."""
    conversation_id = select(Message.conversation_id).where(Message.id == message_id).scalar_subquery()
    await session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(revision=Conversation.revision + 1)
    )


# The statements of every turn, built once: constructing them costs about as
# much as running them on a local database.
_INSERT_MESSAGES = insert(Message).returning(Message.id, sort_by_parameter_order=True)
_CONVERSATION_STATE = select(
    Conversation.revision,
    select(func.max(Message.id))
    .where(Message.conversation_id == bindparam("conversation_id"), Message.id < bindparam("before_id"))
    .scalar_subquery(),
).where(Conversation.id == bindparam("conversation_id"))
_CHECKPOINT = update(Message).where(Message.id == bindparam("message_id")).values(content=bindparam("content"))
_FINISH = (
    update(Message)
    .where(Message.id == bindparam("message_id"))
    .values(
        content=bindparam("content"),
        status=bindparam("status"),
        status_reason=bindparam("status_reason"),
        token_count=bindparam("token_count"),
        prompt_tokens=bindparam("prompt_tokens"),
        completion_tokens=bindparam("completion_tokens"),
    )
)

_IN_CONTEXT = and_(Message.deleted_at.is_(None), Message.forgotten_at.is_(None))


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def start_turn(
        self,
        *,
        conversation_id: int,
        author_user_id: int,
        text: str,
        token_count: int,
        created_at: datetime,
        attachments: list[dict[str, Any]],
        platform_message_id: str,
        model: str,
        connection: AsyncConnection | None = None,
    ) -> StartedTurn:
        """Store the user's message and an empty ``streaming`` answer in one statement."""
        answer_created_at = max(created_at, utcnow())
        common = {"conversation_id": conversation_id, "platform_parts": [], "status_reason": ""}
        rows = [
            {
                **common,
                "author_user_id": author_user_id,
                "role": "user",
                "content": text,
                "token_count": token_count,
                "created_at": created_at,
                "attachments": attachments,
                "platform_message_id": platform_message_id or None,
                "status": MessageStatus.COMPLETE.value,
                "model": "",
            },
            {
                **common,
                "author_user_id": None,
                "role": "assistant",
                "content": "",
                "token_count": 0,
                "created_at": answer_created_at,
                "attachments": [],
                "platform_message_id": None,
                "status": MessageStatus.STREAMING.value,
                "model": model,
            },
        ]
        # Core statements on a plain connection: this runs on every turn, and the
        # ORM's unit of work costs more than the inserts themselves. Writing first
        # also takes SQLite's write lock up front, which readers cannot deadlock.
        async with _writing(self.db, connection) as writer:
            user_id, answer_id = (await writer.execute(_INSERT_MESSAGES, rows)).scalars().all()
            revision, previous_last_id = (
                await writer.execute(_CONVERSATION_STATE, {"conversation_id": conversation_id, "before_id": user_id})
            ).one()
        user_row = ContextRow(
            user_id, "user", text, created_at, token_count, MessageStatus.COMPLETE.value, "", attachments
        )
        return StartedTurn(user_row, answer_id, answer_created_at, previous_last_id, revision)

    async def checkpoint(self, message_id: int, content: str, *, connection: AsyncConnection | None = None) -> None:
        """Save the answer so far, so a crash loses at most the last moments of it."""
        async with _writing(self.db, connection) as writer:
            await writer.execute(_CHECKPOINT, {"message_id": message_id, "content": content})

    async def finish(
        self,
        message_id: int,
        *,
        content: str,
        status: MessageStatus,
        token_count: int,
        reason: str = "",
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        connection: AsyncConnection | None = None,
    ) -> None:
        async with _writing(self.db, connection) as writer:
            await writer.execute(
                _FINISH,
                {
                    "message_id": message_id,
                    "content": content,
                    "status": status.value,
                    "status_reason": reason,
                    "token_count": token_count,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                },
            )

    async def set_platform_parts(self, message_id: int, parts: Sequence[str]) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(platform_parts=list(parts), platform_message_id=parts[0] if parts else None)
            )

    async def recent_for_context(
        self, conversation_id: int, *, up_to_id: int, token_budget: int, per_message_overhead: int, batch: int = 128
    ) -> tuple[list[ContextRow], bool]:
        """The newest messages of a conversation that fit the token budget, oldest first,
        and whether older ones were left out.

        Reads backwards in batches along (conversation_id, id), so the cost
        depends on the window, not on how long the conversation is.
        """
        rows: list[ContextRow] = []
        used = 0
        before = up_to_id + 1
        async with self.db.engine.connect() as connection:
            while True:
                result = await connection.execute(
                    select(
                        Message.id,
                        Message.role,
                        Message.content,
                        Message.created_at,
                        Message.token_count,
                        Message.status,
                        Message.status_reason,
                        Message.attachments,
                    )
                    .where(
                        Message.conversation_id == conversation_id,
                        Message.id < before,
                        Message.status != MessageStatus.FAILED,
                        _IN_CONTEXT,
                    )
                    .order_by(Message.id.desc())
                    .limit(batch)
                )
                fetched = result.all()
                for row in fetched:
                    cost = row.token_count + per_message_overhead
                    if rows and used + cost > token_budget:
                        return rows[::-1], True
                    used += cost
                    rows.append(ContextRow(*row))
                if len(fetched) < batch:
                    return rows[::-1], False
                before = fetched[-1].id

    async def find_by_platform_id(self, ref: ConversationRef, platform_message_id: str) -> Message | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(_place(ref), Message.platform_message_id == platform_message_id)
            )

    async def edit(self, message_id: int, *, content: str, token_count: int, edited_at: datetime) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(content=content, token_count=token_count, edited_at=edited_at)
            )
            await _bump_revision(session, message_id)

    async def mark_deleted(self, message_id: int, *, deleted_at: datetime) -> None:
        """The user deleted this message: blank its text, keep the row and its place."""
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(content="", token_count=0, attachments=[], deleted_at=deleted_at)
            )
            await _bump_revision(session, message_id)

    async def forget_last_exchange(self, conversation_id: int) -> int:
        """Keep the newest user message and everything after it out of the context; returns rows marked."""
        async with self.db.session() as session, session.begin():
            last_user_id = await session.scalar(
                select(func.max(Message.id)).where(
                    Message.conversation_id == conversation_id, Message.role == "user", _IN_CONTEXT
                )
            )
            if last_user_id is None:
                return 0
            result = await session.execute(
                update(Message)
                .where(Message.conversation_id == conversation_id, Message.id >= last_user_id, _IN_CONTEXT)
                .values(forgotten_at=utcnow())
            )
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(revision=Conversation.revision + 1)
            )
        return int(result.rowcount or 0)

    async def history(self, conversation_id: int, *, limit: int) -> list[Message]:
        """The newest ``limit`` messages, deleted ones included, oldest first."""
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.id.desc())
                    .limit(limit)
                )
            ).all()
        return list(rows)[::-1]

    async def interrupted(self, platform: str) -> list[tuple[Message, ConversationRef]]:
        """Answers left ``streaming`` by a process that died, with where they were posted."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Message, Conversation)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.status == MessageStatus.STREAMING, Conversation.platform == platform)
                    .order_by(Message.id)
                )
            ).all()
        return [(message, ConversationRef(c.platform, c.workspace, c.channel, c.thread)) for message, c in rows]
