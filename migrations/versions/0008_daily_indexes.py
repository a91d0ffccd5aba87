"""Daily log: indexes on messages by time and by author and time.

Revision ID: 0008_daily_indexes
Revises: 0007_stored_files
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0008_daily_indexes"
down_revision = "0007_stored_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index("ix_messages_author_user_id_created_at", "messages", ["author_user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_author_user_id_created_at", table_name="messages")
    op.drop_index("ix_messages_created_at", table_name="messages")
