"""Reminders (local time + IANA zone + optional RRULE) and their occurrences, claimed once each.

Revision ID: 0016_reminders
Revises: 0015_pending_extractions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0016_reminders"
down_revision = "0015_pending_extractions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="SET NULL")),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("local_start", sa.String(32), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("zone_fixed", sa.Boolean(), nullable=False),
        sa.Column("rrule", sa.Text()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_due", UTCDateTime()),
        sa.Column("next_local", sa.String(32)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_reminders_state_next_due", "reminders", ["state", "next_due"])
    op.create_index("ix_reminders_user_id_state", "reminders", ["user_id", "state"])
    op.create_table(
        "reminder_occurrences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reminder_id", sa.Integer(), sa.ForeignKey("reminders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(), nullable=False),
        sa.Column("local_time", sa.String(32), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_at", UTCDateTime()),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("account", sa.JSON()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.UniqueConstraint("reminder_id", "scheduled_at", name="uq_reminder_occurrence"),
    )
    op.create_index("ix_reminder_occurrences_state_claimed_at", "reminder_occurrences", ["state", "claimed_at"])
    op.create_index("ix_reminder_occurrences_user_id_delivered_at", "reminder_occurrences", ["user_id", "delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_reminder_occurrences_user_id_delivered_at", table_name="reminder_occurrences")
    op.drop_index("ix_reminder_occurrences_state_claimed_at", table_name="reminder_occurrences")
    op.drop_table("reminder_occurrences")
    op.drop_index("ix_reminders_user_id_state", table_name="reminders")
    op.drop_index("ix_reminders_state_next_due", table_name="reminders")
    op.drop_table("reminders")
