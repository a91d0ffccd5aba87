"""Pending links of a platform account to a verified email: confirmed by the signer, approved by an owner.

A row is made at the sign-in callback (stage ``confirm``, 10 minutes); the confirmation
page's POST claims it once; when the email's user already has accounts it waits for
one of them (stage ``awaiting``, one day) and is approved or denied once. Only hashes of
the tokens are stored, and every stage change is one conditional UPDATE, so two
clicks racing cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_identity import LinkRequest
from core.types import PlatformIdentity

CONFIRM_LIFETIME = timedelta(minutes=10)
APPROVAL_LIFETIME = timedelta(days=1)

CONFIRM = "confirm"
CLAIMED = "claimed"
AWAITING = "awaiting"
LINKED = "linked"
DENIED = "denied"


@dataclass(frozen=True, slots=True)
class PendingLink:
    """One request: which account asks to be linked to which email."""

    id: int
    identity: PlatformIdentity
    email: str
    stage: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkRequestStore:
    """The ``link_requests`` rows."""

    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock
        self._next_purge: datetime | None = None

    async def create(self, identity: PlatformIdentity, email: str) -> str:
        """A request waiting for the signer's confirmation; returns its (unhashed) confirmation token."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(LinkRequest).values(
                    confirm_hash=_hash(token),
                    stage=CONFIRM,
                    email=email.strip().lower(),
                    platform=identity.platform,
                    workspace=identity.workspace,
                    platform_user_id=identity.user_id,
                    display_name=identity.display_name[:200],
                    created_at=now,
                    expires_at=now + CONFIRM_LIFETIME,
                )
            )
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + timedelta(hours=1)
            await self.purge()
        return token

    async def claim_confirmation(self, token: str) -> PendingLink | None:
        """Use the confirmation token up (once, before it expires); None when it is not valid."""
        return await self._move(LinkRequest.confirm_hash == _hash(token), CONFIRM, CLAIMED)

    async def await_approval(self, request_id: int) -> str:
        """The claimed request now waits for an owner's decision; returns the approval token."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(LinkRequest)
                .where(LinkRequest.id == request_id, LinkRequest.stage == CLAIMED)
                .values(stage=AWAITING, approve_hash=_hash(token), expires_at=now + APPROVAL_LIFETIME)
            )
        return token

    async def finish(self, request_id: int, stage: str) -> None:
        """Record how a claimed request ended without approval (linked at once)."""
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(LinkRequest).where(LinkRequest.id == request_id).values(stage=stage, decided_at=self.clock())
            )

    async def awaiting(self, token: str) -> PendingLink | None:
        """The request an approval token points at, while it still waits (nothing is changed)."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(LinkRequest).where(LinkRequest.approve_hash == _hash(token)))).first()
        if row is None or row.stage != AWAITING or row.expires_at <= self.clock():
            return None
        return _pending(row)

    async def decide(self, token: str, *, approve: bool) -> PendingLink | None:
        """Approve or deny (once, before it expires); None when the token is not valid any more."""
        return await self._move(LinkRequest.approve_hash == _hash(token), AWAITING, LINKED if approve else DENIED)

    async def _move(self, match: Any, from_stage: str, to_stage: str) -> PendingLink | None:
        now = self.clock()
        async with self.db.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(LinkRequest)
                    .where(match, LinkRequest.stage == from_stage, LinkRequest.expires_at > now)
                    .values(stage=to_stage, decided_at=now if to_stage in (LINKED, DENIED) else None)
                    .returning(LinkRequest)
                )
            ).first()
        return _pending(row) if row is not None else None

    async def purge(self, *, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete requests that expired more than ``older_than`` ago; returns how many."""
        cutoff = self.clock() - older_than
        async with self.db.engine.begin() as conn:
            result = await conn.execute(delete(LinkRequest).where(LinkRequest.expires_at < cutoff))
        return int(result.rowcount or 0)


def _pending(row: Row[Any]) -> PendingLink:
    return PendingLink(
        id=row.id,
        identity=PlatformIdentity(row.platform, row.workspace, row.platform_user_id, row.display_name),
        email=row.email,
        stage=row.stage,
        expires_at=row.expires_at,
    )
