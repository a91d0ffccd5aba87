"""The queries of claimed incoming messages (core/db/models_inbound.py): claim, note a change, read changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.db.database import Database
from core.db.models_inbound import InboundMessage
from core.types import ConversationRef

# Platforms redeliver within minutes, edits of a waiting message come within its wait:
# claims older than this are of no further use.
KEPT_FOR = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class NotedChanges:
    """What happened to a message while it waited: its newest text (None: unchanged) and whether it was deleted."""

    text: str | None
    deleted: bool


def _key(ref: ConversationRef, platform_message_id: str):  # noqa: ANN202 - a SQL expression
    table = InboundMessage.__table__
    return and_(
        table.c.platform == ref.platform,
        table.c.workspace == ref.workspace,
        table.c.channel == ref.channel,
        table.c.platform_message_id == platform_message_id,
    )


class InboundMessages:
    """Incoming messages in the database, shared by every process using it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._purged: date | None = None

    async def claim(self, ref: ConversationRef, platform_message_id: str, received_at: datetime) -> bool:
        """Insert the message's row; True for the one caller that inserted it, False for every later one."""
        table = InboundMessage.__table__
        statement = (
            self._insert(table)
            .values(
                platform=ref.platform,
                workspace=ref.workspace,
                channel=ref.channel,
                platform_message_id=platform_message_id,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel", "platform_message_id"])
            .returning(table.c.id)
        )
        purge = self._purged != received_at.date()  # once a day: drop the claims of days gone by

        def insert(connection: Connection) -> bool:
            if purge:
                connection.execute(delete(table).where(table.c.received_at < received_at - KEPT_FOR))
            return connection.execute(statement).first() is not None

        claimed = await self.db.write(insert)
        if purge:
            self._purged = received_at.date()
        return claimed

    async def note_edit(self, ref: ConversationRef, platform_message_id: str, text: str) -> bool:
        """Record the message's new text; False when no process claimed such a message."""
        return await self._note(ref, platform_message_id, edited_text=text)

    async def note_delete(self, ref: ConversationRef, platform_message_id: str, deleted_at: datetime) -> bool:
        """Record that the message was deleted; False when no process claimed such a message."""
        return await self._note(ref, platform_message_id, deleted_at=deleted_at)

    async def _note(self, ref: ConversationRef, platform_message_id: str, **values: object) -> bool:
        statement = update(InboundMessage.__table__).where(_key(ref, platform_message_id)).values(**values)
        return await self.db.write(lambda writer: bool(writer.execute(statement).rowcount))


def noted_changes(connection: Connection, ref: ConversationRef, platform_message_id: str) -> NotedChanges | None:
    """The edits and deletion noted for a claimed message (None: not claimed here or anywhere).

    Read in the transaction that stores the message: its claim row stays locked until that
    commits (PostgreSQL; SQLite's one writer holds the whole database), so a change noted
    meanwhile waits for it and then finds the message stored, and none is missed between the two.
    """
    table = InboundMessage.__table__
    query = select(table.c.edited_text, table.c.deleted_at).where(_key(ref, platform_message_id)).with_for_update()
    row = connection.execute(query).first()
    if row is None:
        return None
    return NotedChanges(row.edited_text, row.deleted_at is not None)
