"""ORM models. The schema itself only changes through Alembic (migrations/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A time-zone-aware timestamp on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are
    stored as naive UTC and given their UTC zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a time-zone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, time-zone aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person using the assistant, across all of their platform accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """One platform account (Discord user, Slack member in a workspace, terminal user) of a user."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "workspace", "platform_user_id", name="uq_identity_account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(64))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the account last wrote to the assistant: outbound posts go to the account used last.
    last_used_at: Mapped[datetime | None] = mapped_column()


class Conversation(Base):
    """A conversation thread of ours, bound to one platform channel or thread.

    ``/new`` closes the open conversation of a place and starts another, so at
    most one conversation per place is open (``closed_at IS NULL``).
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index(
            "uq_conversation_open_place",
            "platform",
            "workspace",
            "channel",
            "thread",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    thread: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # Bumped whenever stored messages change other than by appending (an edit, a
    # deletion, /forget), so every process knows its cached window is stale.
    revision: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """One message of a conversation, user's or assistant's. Rows are never removed.

    A user's deletion blanks the content and sets ``deleted_at``; ``/forget`` sets
    ``forgotten_at``; either keeps the row out of the model's context.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_platform_message_id", "platform_message_id"),
        Index("ix_messages_status", "status"),
        Index("ix_messages_created_at_id", "created_at", "id"),  # the timeline, in the order written
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    # Platform ids of every message an answer was rendered into (long answers span several).
    platform_parts: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="complete")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str] = mapped_column(String(100), default="")
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    edited_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column()
    forgotten_at: Mapped[datetime | None] = mapped_column()


class Revision(Base):
    """A counter every process can read: bumped when something cached per process changes.

    ``people`` is bumped by every change to who someone is or may do (a link, an
    unlink, a time zone or name change), so every process drops its cached
    access decisions at the next message.
    """

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


from core.db import models_daily as _models_daily  # noqa: E402,F401
from core.db import models_daily_indexes as _models_daily_indexes  # noqa: E402,F401
from core.db import models_extraction as _models_extraction  # noqa: E402,F401
from core.db import models_files as _models_files  # noqa: E402,F401
from core.db import models_identity as _models_identity  # noqa: E402,F401
from core.db import models_inbound as _models_inbound  # noqa: E402,F401
from core.db import models_memory as _models_memory  # noqa: E402,F401
from core.db import models_pending as _models_pending  # noqa: E402,F401
from core.db import models_reminders as _models_reminders  # noqa: E402,F401
from core.db import models_speak as _models_speak  # noqa: E402,F401
from core.db import models_summaries as _models_summaries  # noqa: E402,F401
from core.db import models_usage as _models_usage  # noqa: E402,F401
from core.db import models_web as _models_web  # noqa: E402,F401
