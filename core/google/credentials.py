"""Google credentials of a user: built from the stored refresh token, refreshed, and saved again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import google.auth.exceptions
import requests
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials

from core.google.oauth import GoogleClientConfig
from core.google.tokens import GoogleTokenStore, StoredToken


class GoogleNotConnected(Exception):
    """The user never connected Google (or disconnected)."""

    def __init__(self, user_id: int) -> None:
        super().__init__("Google is not connected: use /connect google first.")
        self.user_id = user_id


class GoogleReconnectNeeded(Exception):
    """Google refused the stored refresh token (revoked or expired): the user must connect again."""

    def __init__(self, user_id: int) -> None:
        super().__init__("Google no longer accepts this connection: use /connect google again.")
        self.user_id = user_id


class GoogleUnavailable(Exception):
    """Google could not be reached or answered with an error that is not the user's doing."""


class GoogleCredentialsProvider:
    """Hands out valid :class:`Credentials` for a user, refreshing and persisting them as needed."""

    def __init__(self, store: GoogleTokenStore, config: GoogleClientConfig) -> None:
        self.store = store
        self.config = config

    async def get(self, user_id: int) -> Credentials:
        """Credentials with a valid access token; raises GoogleNotConnected or GoogleReconnectNeeded."""
        stored = await self.store.load(user_id)
        if stored is None:
            raise GoogleNotConnected(user_id)
        if stored.broken:
            raise GoogleReconnectNeeded(user_id)
        creds = self.build(stored)
        if creds.valid:
            return creds
        try:
            await asyncio.wait_for(asyncio.to_thread(self._refresh, creds), self.config.timeout)
        except google.auth.exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise GoogleUnavailable("Google could not refresh the access token right now") from None
            await self.store.mark_broken(user_id)
            raise GoogleReconnectNeeded(user_id) from None
        except (TimeoutError, google.auth.exceptions.TransportError, requests.RequestException):
            raise GoogleUnavailable("Google's token endpoint did not answer") from None
        await self.save_refreshed(user_id, creds)
        return creds

    def build(self, stored: StoredToken) -> Credentials:
        """Credentials from a stored connection (google-auth wants a naive UTC expiry)."""
        expiry = stored.expiry.astimezone(UTC).replace(tzinfo=None) if stored.expiry else None
        return Credentials(
            token=stored.access_token,
            refresh_token=stored.refresh_token,
            token_uri=self.config.token_url,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scopes=list(stored.scopes) or None,
            expiry=expiry,
        )

    async def save_refreshed(self, user_id: int, creds: Credentials) -> None:
        """Persist the access token and expiry a refresh produced (google-auth has no refresh callback)."""
        if creds.token:
            expiry = creds.expiry.replace(tzinfo=UTC) if isinstance(creds.expiry, datetime) else None
            await self.store.update_access(user_id, creds.token, expiry)

    def _refresh(self, creds: Credentials) -> None:
        with requests.Session() as session:
            creds.refresh(GoogleRequest(session))
