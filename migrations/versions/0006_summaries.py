"""Rolling summaries linked to the message ranges they replace.

Revision ID: 0006_summaries
Revises: 0005_daily_logs
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0006_summaries"
down_revision = "0005_daily_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("first_message_id", sa.Integer(), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("covers_from", UTCDateTime(), nullable=False),
        sa.Column("covers_to", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("summaries.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("conversation_id", "level", "first_message_id", name="uq_summary_range"),
    )
    op.create_index("ix_summaries_conversation_id", "summaries", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_summaries_conversation_id", table_name="summaries")
    op.drop_table("summaries")
