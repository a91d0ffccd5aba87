"""A user's profile fields changed by commands: display name and the small settings JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from core.db.database import Database
from core.db.models import User
from core.db.people import PeopleRepository

MAX_NAME = 80


class Profiles:
    """Reads and writes of ``users``' profile fields. Every write tells the caches by itself: ``changed``
    (``People.changed`` in the container: this process's decisions and the shared revision), by default
    the shared ``people`` revision alone (other processes, and this one at its next access decision)."""

    def __init__(self, db: Database, *, changed: Callable[[], Awaitable[None]] | None = None) -> None:
        self.db = db
        self.changed = changed or PeopleRepository(db).bump

    async def set_display_name(self, user_id: int, name: str) -> None:
        """The name the assistant uses for the user (instead of their email)."""
        await self.store_display_name(user_id, name)
        await self.changed()

    async def store_display_name(self, user_id: int, name: str) -> None:
        """Store the name without telling the caches: for a writer that tells them once for several writes
        (the settings registry)."""
        async with self.db.session() as session, session.begin():
            user = await session.get(User, user_id)
            if user is not None:
                user.display_name = name

    async def display_name(self, user_id: int) -> str:
        """The name the assistant uses for the user ("" for an unknown user)."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            return user.display_name if user is not None else ""

    async def settings(self, user_id: int) -> dict[str, Any]:
        """The user's settings JSON (empty when unset)."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            return dict(user.settings or {}) if user is not None else {}

    async def update_settings(self, user_id: int, values: dict[str, Any]) -> None:
        """Set these keys of the settings JSON (a new dict, so the JSON column sees the change)."""
        await self.store_settings(user_id, values)
        await self.changed()

    async def store_settings(self, user_id: int, values: dict[str, Any]) -> None:
        """:meth:`update_settings` without telling the caches: for a writer that tells them once for several
        writes (the settings registry)."""
        async with self.db.session() as session, session.begin():
            user = await session.get(User, user_id)
            if user is not None:
                user.settings = {**(user.settings or {}), **values}
