"""Memory extractions still owed: a user message whose facts the model could not be asked for yet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class PendingExtraction(Base):
    """One user message to extract memories from, kept until the model has answered for it.

    Written when the extraction fails (the model is down); the memory sweep retries it
    and deletes the row once it went through. ``timezone`` is the one the turn used.
    """

    __tablename__ = "pending_extractions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column()
