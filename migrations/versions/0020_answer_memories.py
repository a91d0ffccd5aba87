"""answer_memories: which recalled memories were in the context of each answer.

Revision ID: 0020_answer_memories
Revises: 0019_drop_daily_deliveries
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_answer_memories"
down_revision = "0019_drop_daily_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_memories",
        sa.Column(
            "answer_message_id",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("memory_id", sa.Integer(), sa.ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    # A forgotten memory's rows are found by memory (the primary key starts with the answer).
    op.create_index("ix_answer_memories_memory_id", "answer_memories", ["memory_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_memories_memory_id", table_name="answer_memories")
    op.drop_table("answer_memories")
