"""Rolling summaries: each stands in for an exact, stored range of a conversation's messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class Summary(Base):
    """The model's summary of messages ``first_message_id``..``last_message_id`` (inclusive).

    Level 0 summarises messages; level 1 and up summarise the summaries below
    them (``parent_id`` points from a folded summary to the one that replaced
    it).  A ``stale`` summary covers a message that was edited or deleted since
    and is rewritten before it is used again.  Messages are never touched.
    """

    __tablename__ = "summaries"
    __table_args__ = (UniqueConstraint("conversation_id", "level", "first_message_id", name="uq_summary_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    first_message_id: Mapped[int] = mapped_column(Integer)
    last_message_id: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(100))
    covers_from: Mapped[datetime] = mapped_column()
    covers_to: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    stale: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("summaries.id", ondelete="SET NULL"))
