"""Follow-ups: a reminder row may be the next morning's offer of the open items of a day's summary.

``kind`` is "reminder" for the person's own reminders and "follow_ups" for the
offer; ``items`` holds the offer's open items; ``source_key`` makes the offer of
one (person, day) once, whichever process or retry makes it.

Revision ID: 0022_reminder_follow_ups
Revises: 0021_messages_by_time
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_reminder_follow_ups"
down_revision = "0021_messages_by_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="reminder"))
        batch.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("source_key", sa.String(120), nullable=True))
    op.create_index("uq_reminders_source_key", "reminders", ["source_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_reminders_source_key", table_name="reminders")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("source_key")
        batch.drop_column("items")
        batch.drop_column("kind")
