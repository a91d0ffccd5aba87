"""Incoming platform messages, claimed once across processes (edits and deletions of waiting ones noted).

Revision ID: 0010_inbound_messages
Revises: 0009_usage_counts
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0010_inbound_messages"
down_revision = "0009_usage_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("platform_message_id", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("edited_text", sa.Text(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("platform", "workspace", "channel", "platform_message_id", name="uq_inbound_message"),
    )
    op.create_index("ix_inbound_messages_received_at", "inbound_messages", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_received_at", table_name="inbound_messages")
    op.drop_table("inbound_messages")
