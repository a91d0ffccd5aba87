"""Calendar-aware reminders: ``reminders.calendar`` anchors a reminder to an event's start or end.

Revision ID: 0023_reminder_calendar
Revises: 0022_reminder_follow_ups
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_reminder_calendar"
down_revision = "0022_reminder_follow_ups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.add_column(sa.Column("calendar", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("calendar")
