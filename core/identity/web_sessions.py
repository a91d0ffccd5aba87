"""The web app's sessions: opened by a single-use link, stored server-side, revocable.

The link is an ``oauth_states`` row with purpose ``settings_page`` (the one ``/account``
sends, or ``captainslog link`` prints). Opening it makes a ``web_sessions`` row; the
browser keeps only a random token, the table only its hash. Every request re-checks the
account that opened the session through ``People.admit``: an account taken off the
allowlist is signed out at once. "Sign out" revokes one row, "sign out everywhere" all
rows of the person.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select, update

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_web import WebSession
from core.db.repositories import UserRecord
from core.identity.states import OAuthStateStore, Purpose, StateProblem, StateRefused
from core.people import People
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

WEB_SESSION_LIFETIME = timedelta(days=14)
WEB_LINK_PATH = "/link"


@dataclass(frozen=True, slots=True)
class WebUser:
    """The person of a checked session or token, as admitted now."""

    user: UserRecord
    identity: PlatformIdentity
    csrf: str
    session_id: int | None = None  # None when authenticated by a personal access token

    @property
    def id(self) -> int:
        return self.user.id


def token_hash(token: str) -> str:
    """The stored form of a session or access token."""
    return hashlib.sha256(token.encode()).hexdigest()


class WebSessions:
    """Issues sign-in links and sessions, checks and revokes them."""

    def __init__(
        self,
        db: Database,
        *,
        states: OAuthStateStore,
        people: People,
        public_url: str,
        clock: Clock = system_clock,
        lifetime: timedelta = WEB_SESSION_LIFETIME,
    ) -> None:
        self.db = db
        self.states = states
        self.people = people
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.lifetime = lifetime

    @property
    def secure_cookie(self) -> bool:
        """Send the cookie over https only when people reach the app through https."""
        return self.public_url.startswith("https://")

    async def link(self, identity: PlatformIdentity) -> str:
        """A single-use sign-in link for ``identity``'s person (10 minutes); admits the account first.

        Raises PermissionError when the account may not use the assistant."""
        admission = await self.people.admit(identity)
        if not admission.allowed or admission.user is None:
            raise PermissionError(f"{identity.key} may not use this assistant")
        return await self.link_for(identity, admission.user.id)

    async def link_for(self, identity: PlatformIdentity, user_id: int) -> str:
        """A single-use sign-in link of an account already admitted as ``user_id`` (what ``/account`` sends)."""
        token = await self.states.create(Purpose.SETTINGS_PAGE, identity, "", user_id=user_id)
        return f"{self.public_url}{WEB_LINK_PATH}/{token}"

    async def check_link(self, token: str) -> None:
        """Raise StateRefused unless ``token`` is a sign-in link that still works (nothing is used up)."""
        pending = await self.states.peek(token)
        if pending.purpose is not Purpose.SETTINGS_PAGE or pending.user_id is None:
            raise StateRefused(StateProblem.UNKNOWN)

    async def open(self, token: str) -> str:
        """Use the link up and return the new session's cookie value; raises StateRefused when not valid."""
        await self.check_link(token)
        pending = await self.states.consume(token)
        assert pending.user_id is not None
        return await self._store(pending.identity, pending.user_id)

    async def open_for(self, identity: PlatformIdentity, user_id: int) -> str | None:
        """A session of an account just signed in elsewhere (Google's callback); None unless it has access."""
        if await admitted(self.people, identity, user_id) is None:
            return None
        return await self._store(identity, user_id)

    async def _store(self, who: PlatformIdentity, user_id: int) -> str:
        raw = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(WebSession).values(
                    token_hash=token_hash(raw),
                    user_id=user_id,
                    platform=who.platform,
                    workspace=who.workspace,
                    platform_user_id=who.user_id,
                    display_name=who.display_name[:200],
                    csrf=secrets.token_hex(24),
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        log.info("web app: session opened by %s (user %s)", who.key, user_id)
        return raw

    async def session(self, cookie: str | None) -> WebUser | None:
        """The person of this cookie, or None when it is unknown, revoked, expired or its account lost access."""
        if not cookie or len(cookie) > 200:
            return None
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(WebSession).where(WebSession.token_hash == token_hash(cookie)))).first()
        if row is None or row.revoked_at is not None or row.expires_at <= self.clock():
            return None
        identity = PlatformIdentity(row.platform, row.workspace, row.platform_user_id, row.display_name)
        user = await admitted(self.people, identity, row.user_id)
        return None if user is None else WebUser(user, identity, row.csrf, row.id)

    async def sign_out(self, session_id: int) -> None:
        """Revoke one session."""
        async with self.db.engine.begin() as conn:
            await conn.execute(update(WebSession).where(WebSession.id == session_id).values(revoked_at=self.clock()))

    async def sign_out_everywhere(self, user_id: int) -> int:
        """Revoke every session of the person; returns how many were open."""
        now = self.clock()
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                update(WebSession)
                .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None), WebSession.expires_at > now)
                .values(revoked_at=now)
            )
        log.info("web app: user %s signed out everywhere (%s sessions)", user_id, result.rowcount)
        return int(result.rowcount or 0)


async def admitted(people: People, identity: PlatformIdentity, user_id: int) -> UserRecord | None:
    """The person when ``identity`` still has access as ``user_id``, else None (logged)."""
    admission = await people.admit(identity)
    if not admission.allowed or admission.user is None or admission.user.id != user_id:
        log.info("web app: %s no longer has access as user %s", identity.key, user_id)
        return None
    return admission.user
