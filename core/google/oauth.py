"""Google OAuth 2.0 / OpenID Connect for a web server: consent URLs, code exchange, ID token checks, revocation."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import google.auth.exceptions
import requests
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import id_token as google_id_token
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

log = logging.getLogger(__name__)

OPENID = "openid"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
DRIVE_FILE = "https://www.googleapis.com/auth/drive.file"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
SIGNIN_SCOPES: tuple[str, ...] = (OPENID, EMAIL)
CONNECT_SCOPES: tuple[str, ...] = (OPENID, EMAIL, DRIVE_FILE, CALENDAR_EVENTS)
ISSUERS = ("accounts.google.com", "https://accounts.google.com")

GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_REVOKE_URL = "https://oauth2.googleapis.com/revoke"
GOOGLE_API_URL = "https://www.googleapis.com/"


class OAuthExchangeError(Exception):
    """Google did not give tokens for the code (expired code, wrong verifier, unreachable)."""


class IdTokenInvalid(Exception):
    """The ID token failed a check (signature, issuer, audience, expiry, verified email)."""


@dataclass(frozen=True, slots=True)
class GoogleClientConfig:
    """The OAuth client and every Google endpoint (all overridable for proxies and tests)."""

    client_id: str
    client_secret: str
    redirect_uri: str
    auth_url: str = GOOGLE_AUTH_URL
    token_url: str = GOOGLE_TOKEN_URL
    certs_url: str = GOOGLE_CERTS_URL
    revoke_url: str = GOOGLE_REVOKE_URL
    timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token endpoint answered for an authorization code."""

    access_token: str
    refresh_token: str | None
    expiry: datetime | None  # aware UTC
    scopes: tuple[str, ...]
    id_token: str | None


@dataclass(frozen=True, slots=True)
class VerifiedEmail:
    """The person an ID token names, after every check passed."""

    email: str  # lower-cased
    subject: str


def new_code_verifier() -> str:
    """A fresh PKCE code verifier (RFC 7636: 43-128 unreserved characters)."""
    return secrets.token_urlsafe(64)


class GoogleOAuth:
    """The web-server flow, run through google-auth-oauthlib's :class:`Flow` and google-auth."""

    def __init__(self, config: GoogleClientConfig) -> None:
        self.config = config

    def _flow(self, scopes: Sequence[str], code_verifier: str) -> Flow:
        client = {
            "web": {
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "auth_uri": self.config.auth_url,
                "token_uri": self.config.token_url,
                "redirect_uris": [self.config.redirect_uri],
            }
        }
        return Flow.from_client_config(
            client, scopes=list(scopes), redirect_uri=self.config.redirect_uri, code_verifier=code_verifier
        )

    def authorization_url(
        self, *, state: str, code_verifier: str, scopes: Sequence[str], login_hint: str | None = None
    ) -> str:
        """The consent URL: offline access, consent shown (so a refresh token comes back), PKCE S256."""
        extra: dict[str, str] = {"login_hint": login_hint} if login_hint else {}
        url, _ = self._flow(scopes, code_verifier).authorization_url(
            state=state, access_type="offline", prompt="consent", **extra
        )
        return url

    async def exchange(self, *, code: str, code_verifier: str, scopes: Sequence[str]) -> TokenGrant:
        """Trade the callback's code (with the stored PKCE verifier) for tokens."""
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._exchange, code, code_verifier, scopes), self.config.timeout
            )
        except TimeoutError:
            raise OAuthExchangeError("Google's token endpoint did not answer in time") from None

    def _exchange(self, code: str, code_verifier: str, scopes: Sequence[str]) -> TokenGrant:
        flow = self._flow(scopes, code_verifier)
        try:
            token: Mapping[str, Any] = flow.fetch_token(code=code, timeout=self.config.timeout)
        except Warning as changed:
            # oauthlib raises "Scope has changed" when Google grants more than asked
            # (granted scopes are included); the tokens are still valid and ride on the warning.
            token = getattr(changed, "token", None) or {}
            if "access_token" not in token:
                raise OAuthExchangeError("Google's answer had no access token") from None
        except OAuth2Error as exc:
            raise OAuthExchangeError(f"Google refused the code: {exc.error}") from None
        except requests.RequestException as exc:
            raise OAuthExchangeError(f"Google's token endpoint could not be reached ({type(exc).__name__})") from None
        expires_at = token.get("expires_at")
        scope = token.get("scope") or []
        return TokenGrant(
            access_token=str(token["access_token"]),
            refresh_token=token.get("refresh_token"),
            expiry=datetime.fromtimestamp(float(expires_at), UTC) if expires_at else None,
            scopes=tuple(scope.split() if isinstance(scope, str) else scope),
            id_token=token.get("id_token"),
        )

    async def verify_id_token(self, token: str) -> VerifiedEmail:
        """Check the ID token's signature (Google's published keys), issuer, audience, expiry and verified email."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._verify, token), self.config.timeout)
        except TimeoutError:
            raise IdTokenInvalid("Google's certificates could not be fetched in time") from None

    def _verify(self, token: str) -> VerifiedEmail:
        with requests.Session() as session:
            request = GoogleRequest(session)
            try:
                claims = google_id_token.verify_token(
                    token, request, audience=self.config.client_id, certs_url=self.config.certs_url
                )
            except (ValueError, google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
                raise IdTokenInvalid(f"the ID token is not valid: {_first_line(exc)}") from None
        if claims.get("iss") not in ISSUERS:
            raise IdTokenInvalid("the ID token was not issued by Google")
        email = str(claims.get("email") or "").strip().lower()
        if not email:
            raise IdTokenInvalid("the ID token carries no email address")
        if claims.get("email_verified") is not True and str(claims.get("email_verified")).lower() != "true":
            raise IdTokenInvalid("Google has not verified this email address")
        return VerifiedEmail(email=email, subject=str(claims.get("sub", "")))

    async def revoke(self, token: str) -> bool:
        """Ask Google to revoke a refresh or access token; True when Google confirmed."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._revoke, token), self.config.timeout)
        except TimeoutError:
            log.warning("Google revoke endpoint did not answer in time")
            return False

    def _revoke(self, token: str) -> bool:
        try:
            answer = requests.post(
                self.config.revoke_url,
                data={"token": token},
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.config.timeout,
            )
        except requests.RequestException as exc:
            log.warning("Google revoke endpoint unreachable: %s", type(exc).__name__)
            return False
        return answer.status_code == 200


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
