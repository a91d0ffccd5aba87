"""Indexes on ``messages`` for the daily log: who wrote when.

The scheduler looks every minute for users who wrote in the last days, and each
turn's daily-context step asks when the user last wrote; without these both
would read the whole messages table.
"""

from __future__ import annotations

from sqlalchemy import Index

from core.db.models import Message

# Declared against the table, so they join its metadata (and Alembic's comparison) on import.
MESSAGES_CREATED_AT = Index("ix_messages_created_at", Message.__table__.c.created_at)
MESSAGES_AUTHOR_CREATED_AT = Index(
    "ix_messages_author_user_id_created_at", Message.__table__.c.author_user_id, Message.__table__.c.created_at
)
