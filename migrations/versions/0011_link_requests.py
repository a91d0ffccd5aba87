"""Sign-in links confirmed and approved: the link_requests table and identities.last_used_at.

Revision ID: 0011_link_requests
Revises: 0010_inbound_messages
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.db.models import UTCDateTime

revision = "0011_link_requests"
down_revision = "0010_inbound_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))
    op.create_table(
        "link_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("confirm_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("approve_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("link_requests")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("last_used_at")
