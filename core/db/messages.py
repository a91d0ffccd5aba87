"""The message queries of a turn and of the user's edits: each in its own short transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.inbound import noted_changes
from core.db.models import Conversation, Message
from core.db.shared import ContextRow, StartedTurn, bump_conversation_revision, place_filter, write
from core.types import ConversationRef, MessageStatus, StoredMessage

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

# The fields of a StoredMessage, in its order.
_HISTORY_COLUMNS = (
    Message.id,
    Message.role,
    Message.content,
    Message.status,
    Message.status_reason,
    Message.created_at,
    Message.edited_at,
    Message.deleted_at,
    Message.forgotten_at,
)


class MessageRepository:
    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

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
        place: ConversationRef | None = None,
    ) -> StartedTurn:
        """Store the user's message and an empty ``streaming`` answer in one statement.

        ``place``: also read, in the same transaction, the changes noted for the message's claim
        there (``StartedTurn.noted``; core/db/inbound.py), saving the turn a read of its own."""
        answer_created_at = max(created_at, self.clock())
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
        def store(writer: Connection):  # noqa: ANN202 - ids, revision, previous id, noted changes
            user_id, answer_id = writer.execute(_INSERT_MESSAGES, rows).scalars().all()
            state = writer.execute(_CONVERSATION_STATE, {"conversation_id": conversation_id, "before_id": user_id})
            revision, previous_last_id = state.one()
            noted = noted_changes(writer, place, platform_message_id) if place and platform_message_id else None
            return user_id, answer_id, revision, previous_last_id, noted

        user_id, answer_id, revision, previous_last_id, noted = await write(self.db, connection, store)
        user_row = ContextRow(
            user_id,
            "user",
            text,
            created_at,
            token_count,
            MessageStatus.COMPLETE.value,
            "",
            attachments,
            author_user_id,
        )
        return StartedTurn(user_row, answer_id, answer_created_at, previous_last_id, revision, noted)

    async def checkpoint(self, message_id: int, content: str, *, connection: AsyncConnection | None = None) -> None:
        """Save the answer so far, so a crash loses at most the last moments of it."""
        values = {"message_id": message_id, "content": content}
        await write(self.db, connection, lambda writer: writer.execute(_CHECKPOINT, values))

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
        values = {
            "message_id": message_id,
            "content": content,
            "status": status.value,
            "status_reason": reason,
            "token_count": token_count,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
        await write(self.db, connection, lambda writer: writer.execute(_FINISH, values))

    async def set_platform_parts(self, message_id: int, parts: Sequence[str]) -> None:
        statement = (
            update(Message)
            .where(Message.id == message_id)
            .values(platform_parts=list(parts), platform_message_id=parts[0] if parts else None)
        )
        await self.db.write(lambda writer: writer.execute(statement))

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
                        Message.author_user_id,
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
                .where(place_filter(ref), Message.platform_message_id == platform_message_id)
            )

    async def edit(self, message_id: int, *, content: str, token_count: int, edited_at: datetime) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(content=content, token_count=token_count, edited_at=edited_at)
            )
            await bump_conversation_revision(session, message_id)

    async def mark_deleted(self, message_id: int, *, deleted_at: datetime) -> None:
        """The user deleted this message: blank its text, keep the row and its place."""
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(content="", token_count=0, attachments=[], deleted_at=deleted_at)
            )
            await bump_conversation_revision(session, message_id)

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
                .values(forgotten_at=self.clock())
            )
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(revision=Conversation.revision + 1)
            )
        return int(result.rowcount or 0)

    async def history(self, conversation_id: int, *, limit: int) -> list[StoredMessage]:
        """The newest ``limit`` messages, deleted ones included, oldest first."""
        async with self.db.engine.connect() as reader:
            rows = (
                await reader.execute(
                    select(*_HISTORY_COLUMNS)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.id.desc())
                    .limit(limit)
                )
            ).all()
        return [StoredMessage(*row) for row in reversed(rows)]

    async def close_interrupted(
        self, message_id: int, *, reason: str, count: Callable[[str], int]
    ) -> tuple[str, list[str]] | None:
        """Mark an answer partial if it is still ``streaming``; its text and platform messages, or None.

        Conditional, so an answer whose turn stored it after it was listed stays as stored.
        """
        async with self.db.engine.begin() as connection:
            closed = (
                await connection.execute(
                    update(Message)
                    .where(Message.id == message_id, Message.status == MessageStatus.STREAMING.value)
                    .values(status=MessageStatus.PARTIAL.value, status_reason=reason)
                    .returning(Message.content, Message.platform_parts)
                )
            ).one_or_none()
            if closed is None:
                return None
            await connection.execute(
                update(Message).where(Message.id == message_id).values(token_count=count(closed.content))
            )
        return closed.content, list(closed.platform_parts or ())

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


async def update_user_media(
    repository: MessageRepository,
    message_id: int,
    *,
    content: str,
    token_count: int,
    attachments: list[dict[str, Any]],
    connection: AsyncConnection | None = None,
) -> None:
    """Store what the attachments of a just-stored user message turned out to say (transcript, vision findings)."""
    statement = (
        update(Message)
        .where(Message.id == message_id)
        .values(content=content, token_count=token_count, attachments=attachments)
    )
    await write(repository.db, connection, lambda writer: writer.execute(statement))
