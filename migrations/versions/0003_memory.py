"""Long-term memory: message embeddings, memories, full-text search.

Revision ID: 0003_memory
Revises: 0002_seams
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0003_memory"
down_revision = "0002_seams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_embeddings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("indexed_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_message_embeddings_user_id_id", "message_embeddings", ["user_id", "id"])
    op.create_table(
        "memories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("source_message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("superseded_by", sa.Integer(), sa.ForeignKey("memories.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_memories_user_id_id", "memories", ["user_id", "id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # rowid = 2 * message id for a message, 2 * memory id + 1 for a memory.
        op.execute(
            "CREATE VIRTUAL TABLE memory_fts USING fts5("
            "text, user_id UNINDEXED, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_messages_content_tsv ON messages USING gin (to_tsvector('english', content))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS memory_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_content_tsv")
    op.drop_index("ix_memories_user_id_id", table_name="memories")
    op.drop_table("memories")
    op.drop_index("ix_message_embeddings_user_id_id", table_name="message_embeddings")
    op.drop_table("message_embeddings")
