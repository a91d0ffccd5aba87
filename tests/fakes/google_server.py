"""A Google fake on loopback for the real google-auth, google-auth-oauthlib and google-api-python-client.

Endpoints (paths as the real libraries call them once their base URLs point here):

- ``GET  /o/oauth2/v2/auth``          consent, answered at once with a redirect to ``redirect_uri``
- ``POST /token``                     ``authorization_code`` (PKCE S256 checked) and ``refresh_token`` grants
- ``GET  /oauth2/v1/certs``           ``{kid: PEM certificate}`` of the key that signs ID tokens
- ``POST /revoke``                    revokes a refresh or access token
- ``/drive/v3/files`` and ``/upload/drive/v3/files`` (multipart and resumable)
- ``/calendar/v3/calendars/{id}/events`` (list, get, insert, patch, delete) and ``/calendar/v3/freeBusy``

Knobs: :attr:`FakeGoogle.consent` (who signs in next and what they grant), :attr:`id_token_claims` and
:attr:`tamper_id_token` (bad ID tokens), :attr:`api_failure` (Drive/Calendar answer an error),
:meth:`revoke_all`.  Every request is recorded in :attr:`requests`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt
from google.auth import jwt as google_jwt

from tests.fakes.base import ThreadedServer
from tests.fakes.google_apis import GoogleApis, api_error

CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "test-client-secret-value"


@dataclass
class Consent:
    """What the next person to pass the consent screen is and grants."""

    email: str = "ada@example.org"
    email_verified: bool = True
    extra_scopes: tuple[str, ...] = ()
    deny: bool = False  # answer ``error=access_denied`` instead of a code


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Grant:
    email: str
    email_verified: bool
    scopes: list[str]
    revoked: bool = False


def _make_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-google")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private_pem, cert.public_bytes(serialization.Encoding.PEM)


class FakeGoogle(GoogleApis, ThreadedServer):
    """Google's OAuth, certificates, Drive v3 and Calendar v3, scripted by tests."""

    def __init__(self, *, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.kid = "fake-kid-1"
        self._private_pem, self.cert_pem = _make_key()
        self.signer = crypt.RSASigner.from_string(self._private_pem, key_id=self.kid)
        self.reset()

    # -- test knobs --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every grant, file, event and knob."""
        self.consent = Consent()
        self.id_token_claims: dict[str, Any] = {}  # overrides merged into the next ID tokens
        self.tamper_id_token = False
        self.api_failure: int | None = None  # Drive and Calendar answer this status when set
        self.requests: list[Recorded] = []
        self._codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, _Grant] = {}
        self.access_tokens: dict[str, str] = {}  # access token -> refresh token (or "" without one)
        self._grants_by_access: dict[str, _Grant] = {}
        self.reset_apis()

    def revoke_all(self) -> None:
        """Revoke every refresh token (what a user removing the app's access does)."""
        for grant in self.refresh_tokens.values():
            grant.revoked = True

    @property
    def auth_url(self) -> str:
        return f"{self.url}/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def certs_url(self) -> str:
        return f"{self.url}/oauth2/v1/certs"

    @property
    def revoke_url(self) -> str:
        return f"{self.url}/revoke"

    @property
    def api_url(self) -> str:
        return f"{self.url}/"

    def make_id_token(self, **claims: Any) -> str:
        """An ID token signed by the fake's key (claims override the defaults)."""
        now = int(time.time())
        payload = {
            "iss": "https://accounts.google.com",
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": "sub-" + hashlib.sha256(str(claims.get("email", "")).encode()).hexdigest()[:16],
            "iat": now,
            "exp": now + 3600,
        }
        payload.update(claims)
        token = google_jwt.encode(self.signer, payload).decode()
        return token

    # -- app -------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/o/oauth2/v2/auth", self._authorize)
        r.add_post("/token", self._token)
        r.add_get("/oauth2/v1/certs", self._certs)
        r.add_post("/revoke", self._revoke)
        self.add_api_routes(r)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.query), dict(request.headers), body))
        if request.path.startswith(("/drive/", "/upload/", "/calendar/")):
            if self.api_failure is not None:
                return api_error(self.api_failure, "failure requested by the test")
            if self._api_grant(request) is None:
                return api_error(401, "Request had invalid authentication credentials.")
        return await handler(request)

    def _api_grant(self, request: web.Request) -> _Grant | None:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        grant = self._grants_by_access.get(token)
        return grant if grant is not None and not grant.revoked else None

    # -- OAuth ---------------------------------------------------------------------------
    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code" or "redirect_uri" not in q:
            return web.Response(status=400, text="Error 400: invalid_request")
        target = q["redirect_uri"]
        if self.consent.deny:
            raise web.HTTPFound(f"{target}?{urlencode({'error': 'access_denied', 'state': q.get('state', '')})}")
        code = "code-" + secrets.token_urlsafe(16)
        scopes = q.get("scope", "").split() + [s for s in self.consent.extra_scopes if s not in q.get("scope", "")]
        self._codes[code] = {
            "redirect_uri": target,
            "challenge": q.get("code_challenge"),
            "method": q.get("code_challenge_method"),
            "scopes": scopes,
            "email": self.consent.email,
            "email_verified": self.consent.email_verified,
            "offline": q.get("access_type") == "offline",
        }
        params = {"code": code, "state": q.get("state", ""), "scope": " ".join(scopes)}
        raise web.HTTPFound(f"{target}?{urlencode(params)}")

    def _client_ok(self, request: web.Request, form: Any) -> bool:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        return client_id == self.client_id and secret == self.client_secret

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not self._client_ok(request, form):
            return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            grant = self.refresh_tokens.get(str(form.get("refresh_token", "")))
            if grant is None or grant.revoked:
                return _oauth_error("invalid_grant", "Token has been expired or revoked.")
            access = self._issue_access(grant, str(form.get("refresh_token")))
            return web.json_response(
                {"access_token": access, "expires_in": 3599, "scope": " ".join(grant.scopes), "token_type": "Bearer"}
            )
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange_code(self, form: Any) -> web.Response:
        entry = self._codes.pop(str(form.get("code", "")), None)
        if entry is None:
            return _oauth_error("invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != entry["redirect_uri"]:
            return _oauth_error("redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if entry["challenge"]:
            if not verifier:
                return _oauth_error("invalid_grant", "Missing code verifier.")
            digest = base64.urlsafe_b64encode(hashlib.sha256(str(verifier).encode()).digest()).decode().rstrip("=")
            if entry["method"] != "S256" or digest != entry["challenge"]:
                return _oauth_error("invalid_grant", "Invalid code verifier.")
        grant = _Grant(entry["email"], entry["email_verified"], entry["scopes"])
        refresh = "1//rt-" + secrets.token_urlsafe(24)
        if entry["offline"]:
            self.refresh_tokens[refresh] = grant
        access = self._issue_access(grant, refresh if entry["offline"] else "")
        claims = {"email": grant.email, "email_verified": grant.email_verified, **self.id_token_claims}
        id_token = self.make_id_token(**claims)
        if self.tamper_id_token:
            head, payload, sig = id_token.split(".")
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            body["email"] = "mallory@example.org"
            payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
            id_token = f"{head}.{payload}.{sig}"
        answer = {
            "access_token": access,
            "expires_in": 3599,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
            "id_token": id_token,
        }
        if entry["offline"]:
            answer["refresh_token"] = refresh
        return web.json_response(answer)

    def _issue_access(self, grant: _Grant, refresh: str) -> str:
        access = "ya29.at-" + secrets.token_urlsafe(24)
        self.access_tokens[access] = refresh
        self._grants_by_access[access] = grant
        return access

    async def _certs(self, _request: web.Request) -> web.Response:
        return web.json_response({self.kid: self.cert_pem.decode()})

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("token") or request.query.get("token") or "")
        grant = self.refresh_tokens.get(token) or self._grants_by_access.get(token)
        if grant is None:
            return _oauth_error("invalid_token", "Token expired or revoked")
        grant.revoked = True
        return web.json_response({})


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
