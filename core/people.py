"""People, not accounts: resolve the account to a user first, then decide access once.

Every message and command passes through :meth:`People.admit`, the one access
decision.  An account is let in when it matches ``ALLOWED_ACCOUNTS`` (set-ups
without sign-in) or when its user's verified email is on the email allowlist.
Decisions are cached per process and dropped whenever the shared ``people``
revision moves (a link, an unlink, a profile change in any process), so every
process sees such a change at the next message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from core.access import AccessPolicy
from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.outage import unavailable
from core.db.people import PeopleRepository
from core.db.repositories import UserRecord, UserRepository
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

REFUSAL = "Sorry, this assistant is private and your account is not on its list. Ask its owner to add you."

# The link is followed by a space, never by punctuation or line end: platforms that wrap a refusal
# in formatting (Slack's _italics_) must not glue a character onto the URL.
SIGN_IN = (
    "Hi! This assistant is private. Sign in with Google to use it: {link} "
    "(the link works once, for 10 minutes, and only for this account)."
)
NO_LONGER_ALLOWED = "Sorry, {email} is not allowed to use this assistant. Ask its owner to add you."

TOUCH_EVERY = timedelta(minutes=1)

EmailCheck = Callable[[str], bool]
SignInLink = Callable[[PlatformIdentity], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Admission:
    """The access decision for one account. ``user`` is None for strangers (nothing is stored for them)."""

    allowed: bool
    user: UserRecord | None = None
    refusal: str = ""
    signs_in: bool = False  # the refusal carries a fresh sign-in link


class People:
    """Accounts → users, and whether they may talk to the assistant."""

    def __init__(
        self,
        db: Database,
        *,
        accounts: AccessPolicy,
        email_allowed: EmailCheck | None = None,
        clock: Clock = system_clock,
        sign_in_link: SignInLink | None = None,
    ) -> None:
        """``sign_in_link`` (Google sign-in configured) makes the refusal of an unlinked account a sign-in link."""
        self.users = UserRepository(db, clock=clock)
        self.repository = PeopleRepository(db)
        self.accounts = accounts
        self.email_allowed = email_allowed
        self.sign_in_link = sign_in_link
        self._revision: int | None = None
        self._decisions: dict[str, Admission] = {}
        self.clock = clock
        self._touched: dict[str, datetime] = {}
        self._reading: asyncio.Future[int] | None = None  # the revision read in flight
        self._queued: asyncio.Future[int] | None = None  # the next one, which later callers join

    async def revision(self) -> int:
        """The shared ``people`` revision, read after this call began.

        Callers arriving together share one read: a caller joins the read queued behind the one
        in flight (never the one in flight, which may have started before a change it must see),
        so 100 messages at once cost one or two reads, not 100.
        """
        queued = self._queued
        if queued is not None:
            try:
                return await asyncio.shield(queued)
            except asyncio.CancelledError:
                if not queued.cancelled():
                    raise  # this caller was cancelled
                return await self.repository.revision()  # the read we joined was: read on our own
        mine: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queued = mine
        try:
            while self._reading is not None:
                await asyncio.wait({self._reading})
            self._queued = None  # from here on, callers queue behind this read
            self._reading = mine
            value = await self.repository.revision()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                mine.cancel()
            else:
                mine.set_exception(exc)
                mine.exception()  # those who joined get it; nobody else needs to
            raise
        finally:
            if self._queued is mine:
                self._queued = None
            if self._reading is mine:
                self._reading = None
        mine.set_result(value)
        return value

    async def admit(
        self, identity: PlatformIdentity, *, connection: AsyncConnection | None = None, revision: int | None = None
    ) -> Admission:
        """Decide whether ``identity`` may use the assistant, creating the user of an allowed new account.

        ``revision``: the caller read :meth:`revision` for this very decision (not read again).
        While the database is unavailable, a person decided before is decided from the cache;
        anyone else gets the database's error (the caller holds the message and asks again).
        """
        try:
            if revision is None:
                revision = await (
                    self.repository.revision(connection=connection) if connection is not None else self.revision()
                )
        except Exception as exc:
            cached = self._decisions.get(identity.key)
            if cached is None or not unavailable(exc):
                raise
            log.info("database unavailable: %s decided from the cache", identity.key)
            return cached
        if revision != self._revision:
            self._decisions.clear()
            self._revision = revision
        cached = self._decisions.get(identity.key)
        if cached is None:
            cached = await self._decide(identity)
            if cached.allowed or not cached.signs_in:
                self._decisions[identity.key] = cached  # a sign-in link is single use: never cached
        if cached.allowed:
            await self._touch(identity)
        return cached

    async def _touch(self, identity: PlatformIdentity) -> None:
        """Remember the account as used now (at most once a minute per account and process)."""
        now = self.clock()
        last = self._touched.get(identity.key)
        if last is not None and now - last < TOUCH_EVERY:
            return
        self._touched[identity.key] = now
        try:
            await self.repository.touch(identity, now)
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.info("database unavailable: %s not marked as used", identity.key)  # a later message marks it

    def known(self, identity: PlatformIdentity) -> Admission | None:
        """This process's last decision for ``identity`` (None if none is cached)."""
        return self._decisions.get(identity.key)

    async def _decide(self, identity: PlatformIdentity) -> Admission:
        if self.accounts.allows(identity):
            now = self.clock()
            user = await self.users.find_or_create(identity, used_at=now)
            self._touched[identity.key] = now  # marked as used in the same transaction
            return Admission(True, user)
        user = await self.users.find(identity)
        if user is not None and user.email and self.email_allowed is not None and self.email_allowed(user.email):
            return Admission(True, user)
        if user is not None and user.email and self.sign_in_link is not None:
            log.info("refused %s: %s is not on the email allowlist", identity.key, user.email)
            return Admission(False, None, NO_LONGER_ALLOWED.format(email=user.email))
        if self.sign_in_link is not None:
            log.info("refused %s: not signed in; sent a sign-in link", identity.key)
            return Admission(False, None, SIGN_IN.format(link=await self.sign_in_link(identity)), signs_in=True)
        log.info("refused %s: not on the allowlist", identity.key)
        return Admission(False, None, REFUSAL)

    async def changed(self) -> None:
        """Something about a person changed: every process re-decides at its next message."""
        self._decisions.clear()
        await self.repository.bump()

    async def set_timezone(self, user_id: int, name: str) -> None:
        """Store the user's time zone (seen by every process at the next message)."""
        await self.store_timezone(user_id, name)
        await self.changed()

    async def store_timezone(self, user_id: int, name: str) -> None:
        """Store the time zone without telling the caches: for a writer that tells them once for several
        writes (the settings registry)."""
        await self.users.set_timezone(user_id, name)

    async def profile(self, user_id: int) -> UserRecord | None:
        """The user's stored record, read fresh (not this process's cached decision)."""
        return await self.users.get(user_id)

    async def user_of(self, identity: PlatformIdentity) -> int | None:
        """The id of the allowed person this account belongs to, or None."""
        admission = await self.admit(identity)
        return admission.user.id if admission.allowed and admission.user is not None else None

    async def accounts_of(self, user_id: int) -> list[PlatformIdentity]:
        """The user's platform accounts, most recently used first (the Outbox's directory)."""
        return await self.repository.accounts_of(user_id)
