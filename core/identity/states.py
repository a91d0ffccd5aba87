"""One-time OAuth states: stored hashed, bound to a platform account, with the encrypted PKCE verifier."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_identity import OAuthState
from core.google.tokens import TokenCipher
from core.types import PlatformIdentity

STATE_LIFETIME = timedelta(minutes=10)
PURGE_EVERY = timedelta(hours=1)


class Purpose(enum.StrEnum):
    SIGNIN = "signin"
    CONNECT_GOOGLE = "connect_google"
    SETTINGS_PAGE = "settings_page"  # the link to the settings page (bot/settings_page.py)
    SIGNED_OUT = "signed_out"  # a settings session ended by its Sign out button (kept until it would expire)
    WEB_SIGNIN = "web_signin"  # "Sign in with Google" on the web app's sign-in page (no chat account yet)


class StateProblem(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


class StateRefused(Exception):
    """The state cannot be used: unknown, already used or expired."""

    def __init__(self, problem: StateProblem) -> None:
        super().__init__(f"sign-in state {problem.value}")
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PendingState:
    """A state that was valid when read (or when consumed)."""

    purpose: Purpose
    identity: PlatformIdentity
    user_id: int | None
    code_verifier: str
    expires_at: datetime


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class OAuthStateStore:
    """Creates, peeks at and consumes (once) the ``oauth_states`` rows."""

    def __init__(
        self, db: Database, cipher: TokenCipher, *, clock: Clock = system_clock, lifetime: timedelta = STATE_LIFETIME
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock
        self.lifetime = lifetime
        self._next_purge: datetime | None = None

    async def create(
        self, purpose: Purpose, identity: PlatformIdentity, code_verifier: str, *, user_id: int | None = None
    ) -> str:
        """A new random state for ``identity``; only its hash is stored."""
        state = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(OAuthState).values(
                    state_hash=state_hash(state),
                    purpose=purpose.value,
                    platform=identity.platform,
                    workspace=identity.workspace,
                    platform_user_id=identity.user_id,
                    display_name=identity.display_name,
                    user_id=user_id,
                    code_verifier=self.cipher.encrypt(code_verifier),
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        if self._next_purge is None or now >= self._next_purge:
            # Every refused stranger leaves a row naming their account: expired ones go, hourly at most.
            self._next_purge = now + PURGE_EVERY
            await self.purge()
        return state

    async def peek(self, state: str) -> PendingState:
        """The pending state without using it up (for the short link's redirect)."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(OAuthState).where(OAuthState.state_hash == state_hash(state)))).first()
        if row is None:
            raise StateRefused(StateProblem.UNKNOWN)
        if row.used_at is not None:
            raise StateRefused(StateProblem.USED)
        if row.expires_at <= self.clock():
            raise StateRefused(StateProblem.EXPIRED)
        return self._pending(row)

    async def consume(self, state: str) -> PendingState:
        """Use the state up: succeeds once, and only before it expires."""
        now = self.clock()
        digest = state_hash(state)
        async with self.db.engine.begin() as conn:
            # One conditional UPDATE: two callbacks racing with the same state cannot both win.
            row = (
                await conn.execute(
                    update(OAuthState)
                    .where(OAuthState.state_hash == digest, OAuthState.used_at.is_(None), OAuthState.expires_at > now)
                    .values(used_at=now)
                    .returning(OAuthState)
                )
            ).first()
            if row is not None:
                return self._pending(row)
            found = (await conn.execute(select(OAuthState).where(OAuthState.state_hash == digest))).first()
        if found is None:
            raise StateRefused(StateProblem.UNKNOWN)
        raise StateRefused(StateProblem.USED if found.used_at is not None else StateProblem.EXPIRED)

    async def mark_used(
        self, purpose: Purpose, key: str, identity: PlatformIdentity, *, user_id: int | None, until: datetime
    ) -> None:
        """Record ``key`` as used up until ``until`` (e.g. a signed-out session); see :meth:`is_used`."""
        now = self.clock()
        async with self.db.engine.begin() as conn:
            if (await conn.execute(select(OAuthState.id).where(OAuthState.state_hash == state_hash(key)))).first():
                return
            await conn.execute(
                insert(OAuthState).values(
                    state_hash=state_hash(key),
                    purpose=purpose.value,
                    platform=identity.platform,
                    workspace=identity.workspace,
                    platform_user_id=identity.user_id,
                    display_name=identity.display_name,
                    user_id=user_id,
                    code_verifier="",
                    created_at=now,
                    expires_at=until,
                    used_at=now,
                )
            )

    async def is_used(self, purpose: Purpose, key: str) -> bool:
        """Whether ``key`` was recorded with :meth:`mark_used` for ``purpose``."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(OAuthState.id).where(
                        OAuthState.state_hash == state_hash(key), OAuthState.purpose == purpose.value
                    )
                )
            ).first()
        return row is not None

    def _pending(self, row: Row[Any]) -> PendingState:
        return PendingState(
            purpose=Purpose(row.purpose),
            identity=PlatformIdentity(row.platform, row.workspace, row.platform_user_id, row.display_name),
            user_id=row.user_id,
            code_verifier=self.cipher.decrypt(row.code_verifier),
            expires_at=row.expires_at,
        )

    async def purge(self, *, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete states that expired more than ``older_than`` ago; returns how many."""
        cutoff = self.clock() - older_than
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(OAuthState).where(OAuthState.expires_at < cutoff))
        return int(result.rowcount or 0)
