"""Memory search on PostgreSQL: a full-text table of stored tsvectors, like SQLite's FTS5 table.

Revision ID: 0014_memory_search
Revises: 0013_pending_actions
Create Date: 2026-12-07

Before, PostgreSQL searched ``to_tsvector('english', messages.content)`` through an
expression index: every candidate's text was parsed and stemmed again at query
time and joined to ``message_embeddings`` to find its owner, so a common word
(40,292 of 100,000 rows) took seconds.  ``memory_fts`` holds each indexed
message's and memory's tsvector once, with its owner, keyed like SQLite's table
(``rowid = 2 * message id``, ``2 * memory id + 1``): a word's newest rows of a
user come from the (user_id, rowid) index in order, checked against the stored
vector, and stop at the cap.  SQLite's FTS5 table (porter stemming since 0003)
is unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0014_memory_search"
down_revision = "0013_pending_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE memory_fts (rowid bigint PRIMARY KEY, "
        "user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE, tsv tsvector NOT NULL)"
    )
    op.execute(
        "INSERT INTO memory_fts (rowid, user_id, tsv) "
        "SELECT 2 * e.message_id, e.user_id, to_tsvector('english', m.content) "
        "FROM message_embeddings e JOIN messages m ON m.id = e.message_id"
    )
    op.execute(
        "INSERT INTO memory_fts (rowid, user_id, tsv) "
        "SELECT 2 * r.id + 1, r.user_id, to_tsvector('english', r.text) FROM memories r WHERE r.superseded_by IS NULL"
    )
    op.execute("CREATE INDEX ix_memory_fts_tsv ON memory_fts USING gin (tsv)")
    op.execute("CREATE INDEX ix_memory_fts_user_rowid ON memory_fts (user_id, rowid)")
    op.execute("DROP INDEX IF EXISTS ix_messages_content_tsv")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_messages_content_tsv ON messages USING gin (to_tsvector('english', content))")
    op.execute("DROP TABLE IF EXISTS memory_fts")
