"""A user's Google connection as a whole: is it usable, and disconnecting (revoke, then forget)."""

from __future__ import annotations

import enum
import logging

from core.google.oauth import GoogleOAuth
from core.google.tokens import GoogleTokenStore

log = logging.getLogger(__name__)


class ConnectionStatus(enum.StrEnum):
    NOT_CONNECTED = "not_connected"
    CONNECTED = "connected"
    BROKEN = "broken"  # Google refused the refresh token: connect again


class GoogleConnections:
    """Status and ``/disconnect google`` for users."""

    def __init__(self, store: GoogleTokenStore, oauth: GoogleOAuth) -> None:
        self.store = store
        self.oauth = oauth

    async def status(self, user_id: int) -> ConnectionStatus:
        """Whether the user has a usable Google connection."""
        stored = await self.store.load(user_id)
        if stored is None:
            return ConnectionStatus.NOT_CONNECTED
        return ConnectionStatus.BROKEN if stored.broken else ConnectionStatus.CONNECTED

    async def disconnect(self, user_id: int) -> bool:
        """Revoke the refresh token at Google (best effort) and delete it; False when nothing was connected."""
        stored = await self.store.load(user_id)
        if stored is None:
            return False
        if not stored.broken and not await self.oauth.revoke(stored.refresh_token):
            # Deleting still matters: the token is gone from here even if Google keeps it until it expires.
            log.warning("Google did not confirm revoking the token of user %s; deleting it anyway", user_id)
        await self.store.delete(user_id)
        return True
