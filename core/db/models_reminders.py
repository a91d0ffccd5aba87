"""Reminders the assistant sends by itself, and one row per occurrence that is due.

A reminder keeps its time as the user's local wall time (``local_start``, ISO
without an offset) plus an IANA zone, never as a fixed offset; ``next_due`` is
that time converted to UTC for the scheduler's index, recomputed whenever the
zone or the recurrence moves it. An occurrence is claimed once by the unique
(reminder_id, scheduled_at) and leased to one process until it is delivered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base


class Reminder(Base):
    """One reminder (one-off or recurring) of a person."""

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_state_next_due", "state", "next_due"),
        Index("ix_reminders_user_id_state", "user_id", "state"),
        Index("uq_reminders_source_key", "source_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Where it was asked (the platform first tried); the conversation row when one was open.
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    platform: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    local_start: Mapped[str] = mapped_column(String(32))  # "2026-12-11T10:00:00", the wall time in `timezone`
    timezone: Mapped[str] = mapped_column(String(64))
    # True when the person named the zone: a change of their own zone then leaves it alone.
    zone_fixed: Mapped[bool] = mapped_column(Boolean, default=False)
    rrule: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="active")
    next_due: Mapped[datetime | None] = mapped_column()
    next_local: Mapped[str | None] = mapped_column(String(32))  # next_due as wall time in `timezone`
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    # "reminder", or "follow_ups": the morning offer of a day's open `items` (made once per `source_key`).
    kind: Mapped[str] = mapped_column(String(16), default="reminder", server_default="reminder")
    items: Mapped[list[str] | None] = mapped_column(JSON)
    source_key: Mapped[str | None] = mapped_column(String(120))
    # {"event_id", "title", "anchor": "start"|"end", "offset": minutes}: the time follows that calendar event.
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ReminderOccurrence(Base):
    """One due time of a reminder: claimed by one process, delivered once."""

    __tablename__ = "reminder_occurrences"
    __table_args__ = (
        UniqueConstraint("reminder_id", "scheduled_at", name="uq_reminder_occurrence"),
        Index("ix_reminder_occurrences_state_claimed_at", "state", "claimed_at"),
        Index("ix_reminder_occurrences_user_id_delivered_at", "user_id", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reminder_id: Mapped[int] = mapped_column(ForeignKey("reminders.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scheduled_at: Mapped[datetime] = mapped_column()
    local_time: Mapped[str] = mapped_column(String(32))
    missed: Mapped[int] = mapped_column(Integer, default=0)  # earlier occurrences collapsed into this one
    state: Mapped[str] = mapped_column(String(16))  # claimed, sending, delivered, failed, undeliverable
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # the fencing token of the holder
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column()
    idempotency_key: Mapped[str] = mapped_column(String(64))
    account: Mapped[dict[str, Any] | None] = mapped_column()  # the account a send began to (a retry looks there)
    started_at: Mapped[datetime | None] = mapped_column()
    message_ids: Mapped[list[Any]] = mapped_column(default=list)
    delivered_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
