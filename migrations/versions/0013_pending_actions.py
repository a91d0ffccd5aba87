"""Actions waiting for the speaker's confirmation in a shared place.

Revision ID: 0013_pending_actions
Revises: 0012_daily_deliveries
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0013_pending_actions"
down_revision = "0012_daily_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("conversation_id", "user_id", name="uq_pending_action_speaker"),
    )
    op.create_index("ix_pending_actions_user_id", "pending_actions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_actions_user_id", table_name="pending_actions")
    op.drop_table("pending_actions")
