"""Daily log: one delivery record per posted part (text, PDF file), for posting each exactly once.

Revision ID: 0012_daily_deliveries
Revises: 0011_link_requests
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0012_daily_deliveries"
down_revision = "0011_link_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_table("daily_deliveries")
