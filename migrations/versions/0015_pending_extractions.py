"""Memory extractions still owed after a model outage (retried by the memory sweep).

Revision ID: 0015_pending_extractions
Revises: 0014_memory_search
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0015_pending_extractions"
down_revision = "0014_memory_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_extractions",
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_pending_extractions_user_id", "pending_extractions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_extractions_user_id", table_name="pending_extractions")
    op.drop_table("pending_extractions")
