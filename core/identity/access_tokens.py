"""Personal access tokens for the REST API: made and revoked in the web app's settings, shown once.

Only a SHA-256 of the token is stored. A token acts as the account that made it, checked
through ``People.admit`` at each use like a session.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_web import AccessToken
from core.identity.web_sessions import WebUser, admitted, token_hash
from core.people import People
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

PREFIX = "clt_"
MAX_NAME = 80


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the settings page lists of a token (never the token itself)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


class AccessTokens:
    """The ``access_tokens`` rows of every person."""

    def __init__(self, db: Database, people: People, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.people = people
        self.clock = clock

    async def create(self, user_id: int, identity: PlatformIdentity, name: str) -> str:
        """A new token (returned once, never stored in clear). ``name`` is trimmed; empty becomes "token"."""
        return (await self.issue(user_id, identity, name))[1]

    async def issue(self, user_id: int, identity: PlatformIdentity, name: str) -> tuple[TokenInfo, str]:
        """A new token as listed, and the token itself (returned once, never stored in clear)."""
        raw = PREFIX + secrets.token_urlsafe(32)
        label = " ".join(name.split())[:MAX_NAME] or "token"
        now = self.clock()
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                insert(AccessToken).values(
                    token_hash=token_hash(raw),
                    user_id=user_id,
                    name=label,
                    platform=identity.platform,
                    workspace=identity.workspace,
                    platform_user_id=identity.user_id,
                    created_at=now,
                )
            )
        log.info("web app: user %s made an access token", user_id)
        return TokenInfo(result.inserted_primary_key[0], label, now, None), raw

    async def list(self, user_id: int) -> list[TokenInfo]:
        """The person's tokens that still work, newest first."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(AccessToken)
                .where(AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None))
                .order_by(AccessToken.id.desc())
            )
            return [TokenInfo(r.id, r.name, r.created_at, r.last_used_at) for r in rows]

    async def revoke(self, user_id: int, token_id: int) -> bool:
        """Revoke one of the person's tokens; False when they have no such token."""
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                update(AccessToken)
                .where(AccessToken.id == token_id, AccessToken.user_id == user_id, AccessToken.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        return bool(result.rowcount)

    async def check(self, raw: str) -> WebUser | None:
        """The person of a bearer token, or None when it is unknown, revoked or its account lost access."""
        if not raw.startswith(PREFIX) or len(raw) > 200:
            return None
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(AccessToken).where(AccessToken.token_hash == token_hash(raw)))).first()
        if row is None or row.revoked_at is not None:
            return None
        identity = PlatformIdentity(row.platform, row.workspace, row.platform_user_id)
        user = await admitted(self.people, identity, row.user_id)
        if user is None:
            return None
        async with self.db.engine.begin() as conn:
            await conn.execute(update(AccessToken).where(AccessToken.id == row.id).values(last_used_at=self.clock()))
        return WebUser(user, identity, csrf="")
