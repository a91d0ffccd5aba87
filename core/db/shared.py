"""What the repositories share: the records they return and their connection helpers.

Its own module so that ``core.db.messages`` and ``core.db.repositories`` both import it and not each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.database import Database
from core.db.inbound import NotedChanges
from core.db.models import Conversation, Message
from core.types import ConversationRef

T = TypeVar("T")


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
    noted: NotedChanges | None = None  # edits and deletion other processes noted before it was stored


async def write(db: Database, connection: AsyncConnection | None, work: Callable[[Connection], T]) -> T:
    """``work`` in a transaction of its own (:meth:`Database.write`), or on the caller's connection."""
    if connection is not None:
        return await connection.run_sync(work)
    return await db.write(work)


@asynccontextmanager
async def reading(db: Database, connection: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """The caller's connection, or one of our own for reading."""
    if connection is not None:
        yield connection
    else:
        async with db.engine.connect() as own:
            yield own


def place_filter(ref: ConversationRef) -> Any:
    """The SQL condition for the conversations at ``ref``."""
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
