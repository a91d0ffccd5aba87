"""The daily post goes through speak (spoken_messages): the per-part daily_deliveries table is no longer used.

Revision ID: 0019_drop_daily_deliveries
Revises: 0018_spoken_messages
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0019_drop_daily_deliveries"
down_revision = "0018_spoken_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("daily_deliveries")


def downgrade() -> None:
    op.create_table(
        "daily_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("daily_log_id", sa.Integer(), sa.ForeignKey("daily_logs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("part", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(40), nullable=False, unique=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(200), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("daily_log_id", "part", name="uq_daily_deliveries_log_part"),
    )
