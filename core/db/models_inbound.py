"""Incoming platform messages, claimed once by whichever process sharing the database sees them first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class InboundMessage(Base):
    """One user message a platform delivered, keyed by where it was written and its platform id.

    Discord delivers every event to each unsharded session of a bot, and Slack
    redelivers on retries: the row is inserted by the first process to see the
    message, and only that process answers it.  Edits and deletions that arrive
    while the message still waits in line are noted here (``edited_text``,
    ``deleted_at``), so the process answering it sees them whichever process
    received them.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("platform", "workspace", "channel", "platform_message_id", name="uq_inbound_message"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    platform_message_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(index=True)
    edited_text: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column()
