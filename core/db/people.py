"""Queries about people across their accounts: the shared revision and a user's accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.database import Database
from core.db.models import Conversation, Identity, Message, Revision, User
from core.types import PlatformIdentity

PEOPLE = "people"

_READ = select(Revision.value).where(Revision.name == PEOPLE)


class PeopleRepository:
    """The ``people`` revision (bumped by links, unlinks and profile changes) and account lookups."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def revision(self, *, connection: AsyncConnection | None = None) -> int:
        """The current people revision (0 before the first change)."""
        if connection is not None:
            return int(await connection.scalar(_READ) or 0)
        async with self.db.engine.connect() as reader:
            return int(await reader.scalar(_READ) or 0)

    async def bump(self) -> None:
        """Tell every process that cached access decisions and profiles are stale."""
        for _ in range(2):
            async with self.db.engine.begin() as writer:
                changed = await writer.execute(
                    update(Revision).where(Revision.name == PEOPLE).values(value=Revision.value + 1)
                )
                if changed.rowcount:
                    return
                try:
                    async with writer.begin_nested():
                        await writer.execute(insert(Revision).values(name=PEOPLE, value=1))
                    return
                except IntegrityError:
                    continue  # another process inserted it first: bump theirs

    async def names(self, user_ids: list[int]) -> dict[int, str]:
        """Display names of these users (for labelling speakers in shared threads)."""
        if not user_ids:
            return {}
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
            return {row.id: row.display_name for row in rows}

    async def touch(self, identity: PlatformIdentity, when: datetime) -> None:
        """Record that ``identity`` was just used (outbound posts go to the account used last)."""
        statement = (
            update(Identity)
            .where(
                Identity.platform == identity.platform,
                Identity.workspace == identity.workspace,
                Identity.platform_user_id == identity.user_id,
            )
            .values(last_used_at=when)
        )
        await self.db.write(lambda writer: writer.execute(statement))

    async def accounts_of(self, user_id: int) -> list[PlatformIdentity]:
        """The user's platform accounts, the one they used most recently first.

        Accounts never used since ``last_used_at`` existed fall back to the last message written on
        their platform, then the oldest link first: a newly linked account never wins just by being new."""
        last_written = (
            select(func.max(Message.created_at))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.author_user_id == user_id,
                Conversation.platform == Identity.platform,
                Conversation.workspace == Identity.workspace,
            )
            .correlate(Identity)
            .scalar_subquery()
        )
        async with self.db.engine.connect() as reader:
            rows = (
                await reader.execute(
                    select(Identity.platform, Identity.workspace, Identity.platform_user_id, Identity.display_name)
                    .where(Identity.user_id == user_id)
                    .order_by(Identity.last_used_at.desc().nulls_last(), last_written.desc().nulls_last(), Identity.id)
                )
            ).all()
        return [PlatformIdentity(r.platform, r.workspace, r.platform_user_id, r.display_name) for r in rows]
