"""Actions waiting for the speaker's yes in a shared place (a Calendar change asked for in a thread)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class PendingAction(Base):
    """One tool call held until its speaker confirms; at most one per speaker and conversation."""

    __tablename__ = "pending_actions"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id", name="uq_pending_action_speaker"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tool: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column()
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
