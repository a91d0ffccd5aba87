"""Finding a person named on the command line: by email, by a full account key, or by terminal name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from core.db.database import Database
from core.db.models import Identity, User


@dataclass(frozen=True)
class PersonName:
    """What a command-line tool says about a person: the name and the time zone they chose."""

    display_name: str
    timezone: str | None


async def find_person(db: Database, who: str) -> int | None:
    """The user id named by an email, a full account key (``discord:global:123``), or a terminal user name."""
    who = who.strip()
    async with db.session() as session:
        if "@" in who and ":" not in who:
            return await session.scalar(select(User.id).where(func.lower(User.email) == who.lower()))
        parts = who.split(":")
        if len(parts) == 3:
            platform, workspace, account = parts
        elif len(parts) == 1:
            platform, workspace, account = "terminal", "local", who
        else:
            return None
        return await session.scalar(
            select(Identity.user_id).where(
                Identity.platform == platform,
                Identity.workspace == workspace,
                Identity.platform_user_id == account,
            )
        )


async def person_name(db: Database, user_id: int) -> PersonName | None:
    """The person's name and time zone, or None when no such person is stored."""
    async with db.session() as session:
        person = await session.get(User, user_id)
        return PersonName(person.display_name or "", person.timezone) if person is not None else None
