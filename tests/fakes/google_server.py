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
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
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

FOLDER_MIME = "application/vnd.google-apps.folder"
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


@dataclass
class _Upload:
    metadata: dict[str, Any]
    total: int | None
    data: bytearray = field(default_factory=bytearray)


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


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _event_time(part: dict[str, Any]) -> dt.datetime:
    if "dateTime" in part:
        return _parse_time(part["dateTime"])
    return dt.datetime.fromisoformat(part["date"]).replace(tzinfo=dt.UTC)


_Q_CLAUSE = re.compile(
    r"^\s*(name|mimeType)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$|^\s*trashed\s*=\s*(true|false)\s*$"
    r"|^\s*'((?:[^'\\]|\\.)*)'\s+in\s+parents\s*$"
)


class FakeGoogle(ThreadedServer):
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
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}
        self._uploads: dict[str, _Upload] = {}
        self._ids = itertools.count(1)

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
        r.add_get("/drive/v3/files", self._files_list)
        r.add_post("/drive/v3/files", self._files_create_metadata)
        r.add_get("/drive/v3/files/{id}", self._files_get)
        r.add_post("/upload/drive/v3/files", self._upload_start)
        r.add_put("/upload/drive/v3/files", self._upload_chunk)
        r.add_get("/calendar/v3/calendars/{cal}/events", self._events_list)
        r.add_post("/calendar/v3/calendars/{cal}/events", self._events_insert)
        r.add_get("/calendar/v3/calendars/{cal}/events/{id}", self._events_get)
        r.add_patch("/calendar/v3/calendars/{cal}/events/{id}", self._events_patch)
        r.add_delete("/calendar/v3/calendars/{cal}/events/{id}", self._events_delete)
        r.add_post("/calendar/v3/freeBusy", self._freebusy)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.query), dict(request.headers), body))
        if request.path.startswith(("/drive/", "/upload/", "/calendar/")):
            if self.api_failure is not None:
                return _api_error(self.api_failure, "failure requested by the test")
            if self._api_grant(request) is None:
                return _api_error(401, "Request had invalid authentication credentials.")
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

    # -- Drive -------------------------------------------------------------------------------
    def _new_file(self, metadata: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
        file_id = f"file{next(self._ids)}"
        mime = metadata.get("mimeType", "application/octet-stream")
        kind = "drive/folders" if mime == FOLDER_MIME else "file/d"
        resource = {
            "kind": "drive#file",
            "id": file_id,
            "name": metadata.get("name", "Untitled"),
            "mimeType": mime,
            "parents": list(metadata.get("parents") or ["root"]),
            "trashed": False,
            "webViewLink": f"https://drive.google.com/{kind}/{file_id}/view",
        }
        if data is not None:
            resource["size"] = str(len(data))
            self.file_data[file_id] = bytes(data)
        self.files[file_id] = resource
        return resource

    async def _files_list(self, request: web.Request) -> web.Response:
        items = list(self.files.values())
        for clause in filter(None, request.query.get("q", "").split(" and ")):
            m = _Q_CLAUSE.match(clause)
            if m is None:
                return _api_error(400, f"Invalid Value: {clause}")
            if m.group(1):
                value = m.group(2).replace("\\'", "'")
                items = [f for f in items if f.get(m.group(1)) == value]
            elif m.group(3):
                items = [f for f in items if f["trashed"] == (m.group(3) == "true")]
            else:
                items = [f for f in items if m.group(4) in f["parents"]]
        return web.json_response({"kind": "drive#fileList", "files": items})

    async def _files_get(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["id"])
        if found is None:
            return _api_error(404, f"File not found: {request.match_info['id']}.")
        return web.json_response(found)

    async def _files_create_metadata(self, request: web.Request) -> web.Response:
        return web.json_response(self._new_file(await request.json()))

    async def _upload_start(self, request: web.Request) -> web.Response:
        kind = request.query.get("uploadType")
        if kind == "multipart":
            parts = _multipart_parts(await request.read(), request.headers.get("Content-Type", ""))
            if len(parts) != 2:
                return _api_error(400, "A multipart upload has a metadata part and a media part.")
            return web.json_response(self._new_file(json.loads(parts[0]), parts[1]))
        if kind == "resumable":
            raw = await request.read()
            metadata = json.loads(raw) if raw else {}
            length = request.headers.get("X-Upload-Content-Length")
            upload_id = secrets.token_urlsafe(12)
            self._uploads[upload_id] = _Upload(metadata, int(length) if length else None)
            location = f"{self.url}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}"
            return web.Response(status=200, headers={"Location": location})
        return _api_error(400, f"Unsupported uploadType {kind}")

    async def _upload_chunk(self, request: web.Request) -> web.Response:
        upload = self._uploads.get(request.query.get("upload_id", ""))
        if upload is None:
            return _api_error(404, "No such upload session.")
        data = await request.read()
        m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)|bytes \*/(\d+)", request.headers.get("Content-Range", ""))
        if m and m.group(1) is not None:
            if int(m.group(1)) != len(upload.data):
                return _api_error(400, "Content-Range does not continue the upload.")
            upload.data.extend(data)
            if m.group(3) != "*":
                upload.total = int(m.group(3))
        elif not m:
            upload.data.extend(data)
            upload.total = len(upload.data)
        elif m.group(4) is not None:
            upload.total = int(m.group(4))
        if upload.total is not None and len(upload.data) >= upload.total:
            return web.json_response(self._new_file(upload.metadata, bytes(upload.data)))
        headers = {"Range": f"bytes=0-{len(upload.data) - 1}"} if upload.data else {}
        return web.Response(status=308, headers=headers)

    # -- Calendar ----------------------------------------------------------------------------
    def _calendar(self, request: web.Request) -> dict[str, dict[str, Any]]:
        return self.events.setdefault(request.match_info["cal"], {})

    async def _events_list(self, request: web.Request) -> web.Response:
        q = request.query
        items = [e for e in self._calendar(request).values() if e["status"] != "cancelled"]
        if "timeMin" in q:
            items = [e for e in items if _event_time(e["end"]) > _parse_time(q["timeMin"])]
        if "timeMax" in q:
            items = [e for e in items if _event_time(e["start"]) < _parse_time(q["timeMax"])]
        items.sort(key=lambda e: _event_time(e["start"]))
        return web.json_response({"kind": "calendar#events", "timeZone": q.get("timeZone", "UTC"), "items": items})

    async def _events_insert(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "start" not in body or "end" not in body:
            return _api_error(400, "Missing end time.")
        event_id = f"ev{next(self._ids)}"
        event = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            **body,
        }
        self._calendar(request)[event_id] = event
        return web.json_response(event)

    async def _events_get(self, request: web.Request) -> web.Response:
        event = self._calendar(request).get(request.match_info["id"])
        return web.json_response(event) if event else _api_error(404, "Not Found")

    async def _events_patch(self, request: web.Request) -> web.Response:
        event = self._calendar(request).get(request.match_info["id"])
        if event is None:
            return _api_error(404, "Not Found")
        event.update(await request.json())
        return web.json_response(event)

    async def _events_delete(self, request: web.Request) -> web.Response:
        event = self._calendar(request).get(request.match_info["id"])
        if event is None or event["status"] == "cancelled":
            return _api_error(410 if event else 404, "Resource has been deleted")
        event["status"] = "cancelled"
        return web.Response(status=204)

    async def _freebusy(self, request: web.Request) -> web.Response:
        body = await request.json()
        lo, hi = _parse_time(body["timeMin"]), _parse_time(body["timeMax"])
        calendars = {}
        for item in body.get("items", []):
            busy = [
                {"start": e["start"].get("dateTime"), "end": e["end"].get("dateTime")}
                for e in self.events.get(item["id"], {}).values()
                if e["status"] != "cancelled" and _event_time(e["end"]) > lo and _event_time(e["start"]) < hi
            ]
            calendars[item["id"]] = {"busy": busy}
        return web.json_response({"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "calendars": calendars})


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _api_error(status: int, message: str) -> web.Response:
    reason = {401: "authError", 403: "forbidden", 404: "notFound"}.get(status, "backendError")
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
    return web.json_response(body, status=status)


def _multipart_parts(body: bytes, content_type: str) -> list[bytes]:
    """The bodies of a multipart/related message (the middleware already read the stream)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if m is None:
        return []
    parts = []
    for chunk in body.split(b"--" + m.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk[1:] if chunk.startswith(b"\n") else chunk
        ends = [(i, n) for i, n in ((chunk.find(b"\r\n\r\n"), 4), (chunk.find(b"\n\n"), 2)) if i >= 0]
        if not ends:
            continue
        start, width = min(ends)
        payload = chunk[start + width :]
        payload = payload[:-2] if payload.endswith(b"\r\n") else payload[:-1] if payload.endswith(b"\n") else payload
        parts.append(payload)
    return parts
