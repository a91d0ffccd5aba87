"""The timeline in the order messages were written: an index on messages (created_at, id).

Revision ID: 0021_messages_by_time
Revises: 0020_answer_memories
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0021_messages_by_time"
down_revision = "0020_answer_memories"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_created_at_id", "messages", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_created_at_id", table_name="messages")
