"""The records of what the assistant said by itself: one row per idempotency key (``spoken_messages``).

A row is written (``sending``) before its post may reach the platform, and turned
``sent`` together with the assistant message stored in the conversation's history,
in one transaction: a key is posted and stored once, whatever crashes in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.db.models_speak import SpokenMessage
from core.types import ConversationRef, PlatformIdentity

SENDING = "sending"
SENT = "sent"
REFUSED = "refused"
_TABLE = SpokenMessage.__table__
_MESSAGES = Message.__table__


@dataclass(frozen=True)
class SpokenRecord:
    """A snapshot of one ``spoken_messages`` row."""

    id: int
    key: str
    user_id: int
    platform: str
    workspace: str
    account: str
    state: str
    text: str
    error: str
    conversation_id: int | None
    message_id: int | None
    message_ids: list[Any]
    started_at: datetime
    sent_at: datetime | None

    @property
    def identity(self) -> PlatformIdentity:
        """The account the post goes (went) to."""
        return PlatformIdentity(self.platform, self.workspace, self.account)


def _record(row: Any) -> SpokenRecord:
    mapping = row._mapping
    return SpokenRecord(**{name: mapping[name] for name in SpokenRecord.__dataclass_fields__})


class SpokenRecords:
    """Reads and writes ``spoken_messages``; each call is one short transaction (writes through ``Database.write``)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    async def get(self, key: str) -> SpokenRecord | None:
        """The record of `key`, if it was ever begun."""
        async with self._db.session() as session:
            row = (await session.execute(select(*_TABLE.c).where(_TABLE.c.key == key))).first()
        return _record(row) if row is not None else None

    async def begin(
        self, key: str, user_id: int, account: PlatformIdentity, text: str, now: datetime
    ) -> tuple[SpokenRecord, datetime | None]:
        """Record that `text` is about to be posted to `account`; returns the record and the earlier try's start.

        The earlier try's start is given when the key was already being sent to this same
        account (the post may have arrived: look for it before posting); after a crash the
        record keeps the text of that try, after a failure it said (:meth:`failed`) it takes
        `text`. A key begun on another account, or refused, is moved to this one and starts afresh.
        """
        values = {"key": key, "user_id": user_id, "platform": account.platform, "workspace": account.workspace,
                  "account": account.user_id, "state": SENDING, "text": text, "error": "",
                  "message_ids": [], "started_at": now}  # fmt: skip
        statement = self._insert(_TABLE).values(**values).on_conflict_do_nothing(index_elements=["key"])

        def begin(session: Connection) -> tuple[SpokenRecord, datetime | None]:
            made = session.execute(statement.returning(*_TABLE.c)).first()
            if made is not None:
                return _record(made), None
            known = _record(session.execute(select(*_TABLE.c).where(_TABLE.c.key == key)).one())
            if known.state == SENT or (known.state == SENDING and known.identity == account and not known.error):
                return known, known.started_at
            if known.state == SENDING and known.identity == account:
                # The last try failed and said so: this one's text is posted (looking back all the same).
                retry = update(_TABLE).where(_TABLE.c.id == known.id).values(text=text, error="")
                return _record(session.execute(retry.returning(*_TABLE.c)).one()), known.started_at
            moved = {name: values[name] for name in ("platform", "workspace", "account", "state", "text", "error")}
            row = session.execute(
                update(_TABLE).where(_TABLE.c.id == known.id).values(**moved, started_at=now).returning(*_TABLE.c)
            ).one()
            return _record(row), None

        # Through the writer: on SQLite the beginnings of concurrent sends share one commit.
        return await self._db.write(begin)

    async def sent(
        self,
        record: SpokenRecord,
        *,
        content: str,
        conversation_id: int,
        message_ids: Sequence[str],
        now: datetime,
        token_count: int = 0,
        attachments: Sequence[dict[str, str]] = (),
    ) -> int:
        """The platform accepted the post: record it ``sent`` and store `content` (the post, or what the history
        keeps of it) as an assistant message; returns its id. The record keeps `content` too, from now on."""
        message = (
            insert(_MESSAGES)
            .values(
                conversation_id=conversation_id,
                author_user_id=None,
                role="assistant",
                content=content,
                attachments=list(attachments),
                created_at=now,
                platform_message_id=message_ids[0] if message_ids else None,
                platform_parts=list(message_ids),
                status="complete",
                status_reason="",
                token_count=token_count,
                model="",
            )  # fmt: skip
            .returning(_MESSAGES.c.id)
        )

        def store(session: Connection) -> int:
            message_id = int(session.execute(message).scalar_one())
            session.execute(
                update(_TABLE).where(_TABLE.c.id == record.id)
                .values(state=SENT, text=content, conversation_id=conversation_id, message_id=message_id,
                        message_ids=list(message_ids), sent_at=now, error="")
            )  # fmt: skip
            return message_id

        return await self._db.write(store)

    async def failed(self, key: str, reason: str) -> None:
        """A try failed and said so (the platform is away): the next one may post a fresh text."""
        failed = update(_TABLE).where(_TABLE.c.key == key).values(error=reason[:2000] or "failed")
        await self._db.write(lambda session: session.execute(failed))

    async def refused(self, key: str, reason: str) -> None:
        """Every account refused the post for good: a later call with the key tries again from the start."""
        refused = update(_TABLE).where(_TABLE.c.key == key).values(state=REFUSED, error=reason[:2000])
        await self._db.write(lambda session: session.execute(refused))

    async def place_of(self, conversation_id: int) -> ConversationRef | None:
        """Where a conversation is (the place a spoken message landed)."""
        table = Conversation.__table__
        columns = (table.c.platform, table.c.workspace, table.c.channel, table.c.thread)
        async with self._db.session() as session:
            row = (await session.execute(select(*columns).where(table.c.id == conversation_id))).first()
        return ConversationRef(row.platform, row.workspace, row.channel, row.thread) if row is not None else None

    async def settings_of(self, user_id: int) -> dict[str, Any]:
        """The person's settings (``users.settings``), for the platform they chose."""
        async with self._db.session() as session:
            settings = (await session.execute(select(User.settings).where(User.id == user_id))).scalar()
        return dict(settings or {})
