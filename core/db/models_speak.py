"""What the assistant said by itself (`core.speak`): one row per idempotency key, recorded before it is posted.

``state`` is ``sending`` from the moment a post may reach the platform, ``sent``
once it did (``message_id`` is then the assistant message stored in the
conversation it landed in), or ``refused`` when every account refused it for good.
A retry of a ``sending`` row looks for what the earlier try posted (by its key)
on the same account before it posts only what is missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class SpokenMessage(Base):
    """One message the assistant started itself (a reminder, the daily post, a reconnect notice)."""

    __tablename__ = "spoken_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text, default="")
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    message_ids: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
