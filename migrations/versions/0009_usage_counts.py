"""Daily usage counts per person (messages, images, web searches, Calendar changes), shared across processes.

Revision ID: 0009_usage_counts
Revises: 0008_daily_indexes
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_usage_counts"
down_revision = "0008_daily_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_counts",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "day", "kind"),
    )


def downgrade() -> None:
    op.drop_table("usage_counts")
