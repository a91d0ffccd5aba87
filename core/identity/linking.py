"""Linking a platform account to the user with a verified email (one user per email, across platforms)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models import Identity, User
from core.db.people import PeopleRepository
from core.types import PlatformIdentity


class AccountLinker:
    """Points the ``identities`` row of an account at the user owning an email."""

    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    async def link(self, identity: PlatformIdentity, email: str) -> int:
        """Link ``identity`` to the user with ``email`` and return that user's id.

        - A user with that email exists: the account now belongs to them (moved off any other user).
        - None exists and the account's current user has no email: that user takes the email,
          keeping what they already have.
        - Otherwise a user is created with the email.
        """
        email = email.strip().lower()
        for attempt in range(2):
            try:
                async with self.db.session() as session, session.begin():
                    user_id = await self._link(session, identity, email)
                await PeopleRepository(self.db).bump()  # every process decides this account afresh
                return user_id
            except IntegrityError:
                # A concurrent first sign-in with the same email created the user: link to theirs.
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    async def _link(self, session: AsyncSession, identity: PlatformIdentity, email: str) -> int:
        owner = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
        account = (
            await session.execute(
                select(Identity).where(
                    Identity.platform == identity.platform,
                    Identity.workspace == identity.workspace,
                    Identity.platform_user_id == identity.user_id,
                )
            )
        ).scalar_one_or_none()
        if owner is None and account is not None:
            current = await session.get(User, account.user_id)
            if current is not None and current.email is None:
                current.email = email
                await session.flush()
                return current.id
        if owner is None:
            owner = User(
                email=email,
                display_name=identity.display_name or email.split("@")[0],
                settings={},
                created_at=self.clock(),
            )
            session.add(owner)
            await session.flush()
        if account is None:
            session.add(
                Identity(
                    user_id=owner.id,
                    platform=identity.platform,
                    workspace=identity.workspace,
                    platform_user_id=identity.user_id,
                    display_name=identity.display_name,
                    created_at=self.clock(),
                )
            )
        elif account.user_id != owner.id:
            await session.execute(update(Identity).where(Identity.id == account.id).values(user_id=owner.id))
        await session.flush()
        return owner.id

    async def email_of(self, user_id: int) -> str | None:
        """The user's verified email (None when they never signed in with Google)."""
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            return user.email if user is not None else None

    async def owner_accounts(self, email: str) -> tuple[int | None, list[PlatformIdentity]]:
        """The user who owns ``email`` (None when nobody does) and that user's platform accounts."""
        email = email.strip().lower()
        async with self.db.session() as session:
            owner = (await session.execute(select(User.id).where(User.email == email))).scalar_one_or_none()
            if owner is None:
                return None, []
            query = select(Identity).where(Identity.user_id == owner).order_by(Identity.id)
            rows = (await session.execute(query)).scalars()
            return owner, [PlatformIdentity(r.platform, r.workspace, r.platform_user_id, r.display_name) for r in rows]

    async def unlink(self, identity: PlatformIdentity) -> bool:
        """Forget which user the account belongs to (``/signout``); True when it was linked to an email."""
        async with self.db.session() as session, session.begin():
            account = (
                await session.execute(
                    select(Identity).where(
                        Identity.platform == identity.platform,
                        Identity.workspace == identity.workspace,
                        Identity.platform_user_id == identity.user_id,
                    )
                )
            ).scalar_one_or_none()
            if account is None:
                return False
            user = await session.get(User, account.user_id)
            if user is None or user.email is None:
                # Never signed in: deleting the account would move its next message to a new, empty user.
                return False
            await session.delete(account)
        await PeopleRepository(self.db).bump()
        return True
