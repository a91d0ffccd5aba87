"""A Slack Web API and Socket Mode server on loopback, driven by the tests.

Point the real libraries at it::

    with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        app = AsyncApp(client=client)
        handler = AsyncSocketModeHandler(app, fake.app_token, web_client=client)
        await handler.connect_async()
        fake.user_sends_dm("U0001", "hello")
        ...
        await handler.close_async()

The Web API answers ``POST``/``GET /api/<method>`` with form, query or JSON
parameters, as slack_sdk sends them.  Messages live per channel in
:class:`SlackMessage` records; every call, including refused and rate-limited
ones, is appended to ``fake.log``.  Rate limits follow Slack's tiers (see
:class:`SlackLimits`) and answer 429 with ``Retry-After`` like Slack, which
slack_sdk turns into ``SlackApiError`` unless a rate-limit retry handler is set.

Socket Mode: ``apps.connections.open`` (app token) hands out
``ws://127.0.0.1:PORT/socket?ticket=...``; on connect the server sends
``hello`` and then every envelope the test side produces (``user_sends_dm``,
``slash_command``, ...), to every connected client.  Envelopes produced while no
client is connected are queued and delivered on the next connect, as Slack
retries them.  Acks are recorded in ``fake.acks``.

Block Kit: ``chat.postMessage`` and ``chat.update`` check the section and actions
blocks (``invalid_blocks``: section text over 3,000, button labels over 75, action
ids over 255 or repeated); ``fake.press_button(...)`` sends the ``interactive``
envelope of a ``block_actions`` press on a button the message shows.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import math
import mimetypes
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.base import ThreadedServer

__all__ = [
    "Ack",
    "FakeSlack",
    "LogEntry",
    "ResponseUrlPost",
    "SlackLimits",
    "SlackMessage",
    "StatusCall",
    "StoredFile",
    "Upload",
]

T = TypeVar("T")

APP_ID = "A0001"
TEAM_DOMAIN = "fake-workspace"
VERIFICATION_TOKEN = "fake-verification-token"


# -- configuration and records ---------------------------------------------------


@dataclass
class SlackLimits:
    """Rate and size limits; ``None`` disables a limit.

    Per-minute limits are sliding 60-second windows shared by the workspace.
    ``start_stop_stream_per_minute`` applies to chat.startStream and
    chat.stopStream separately (each method has its own window).
    chat.postMessage is limited per channel by a token bucket: ``post_burst``
    posts may go back to back, then one every ``1 / post_per_second_per_channel``
    seconds; with the defaults that is one post per channel in any 1-second window.
    Refused (429) calls do not use up a slot.

    Slack does not publish its burst sizes; a workspace may allow fewer calls at
    once than its tier suggests.  ``update_burst`` makes chat.update a token
    bucket instead of a sliding window: that many calls back to back, then
    ``update_per_minute`` a minute; ``stream_burst`` does the same for
    chat.startStream and chat.stopStream (each its own bucket) and
    ``append_burst`` for chat.appendStream.  :meth:`strict` gives such a Slack.
    """

    update_per_minute: int | None = 50
    update_burst: int | None = None
    stream_burst: int | None = None
    append_burst: int | None = None
    post_per_second_per_channel: float | None = 1
    post_burst: int = 1
    start_stop_stream_per_minute: int | None = 20
    append_stream_per_minute: int | None = 100
    delete_per_minute: int | None = 50
    #: files.getUploadURLExternal and conversations.open; off unless a test sets them.
    upload_per_minute: int | None = None
    open_per_minute: int | None = None
    #: the length of the "per minute" windows; tests shorten it to stay fast.
    minute: float = 60.0
    update_max_chars: int | None = 4000
    post_max_chars: int | None = 40000
    stream_text_max_chars: int | None = 12000

    @classmethod
    def strict(cls, minute: float = 60.0) -> SlackLimits:
        """A Slack stricter than documented: 5 chat.update at once then 50 a minute, start/stop 3 at once."""
        return cls(update_burst=5, stream_burst=3, append_burst=10, minute=minute)


@dataclass(frozen=True)
class LogEntry:
    """One Web API call as the fake saw it (also refused and 429 ones).

    ``t`` is ``time.perf_counter()`` on arrival; ``status`` the HTTP status;
    ``channel``/``ts`` the message concerned (the new ts for posts and stream
    starts); ``text`` the text sent (text, markdown_text or the chunks' text).
    """

    t: float
    method: str
    channel: str | None
    ts: str | None
    status: int
    ok: bool
    error: str | None
    text: str | None
    retry_after: int | None = None


@dataclass
class SlackMessage:
    """A message stored in a channel, from a user or from the bot."""

    channel: str
    ts: str
    text: str
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    streaming: bool = False
    blocks: list[Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    chunks: list[Any] = field(default_factory=list)
    edited: bool = False
    recipient_user_id: str | None = None
    recipient_team_id: str | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_bot(self) -> bool:
        """True for messages the bot posted (or streamed, or uploaded)."""
        return self.bot_id is not None

    def to_api(self) -> dict[str, Any]:
        """The message as the Web API returns it."""
        out: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        if self.bot_id is not None:
            out.update(bot_id=self.bot_id, app_id=APP_ID)
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = self.files
        if self.edited:
            out["edited"] = {"user": self.user, "ts": self.ts}
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out


@dataclass(frozen=True)
class Ack:
    """A Socket Mode acknowledgement received from a client."""

    envelope_id: str
    payload: Any
    t: float
    connection_id: int


@dataclass(frozen=True)
class StatusCall:
    """One assistant.threads.setStatus call."""

    t: float
    channel_id: str
    thread_ts: str
    status: str
    loading_messages: list[str] | None = None


@dataclass(frozen=True)
class Upload:
    """A file uploaded by the bot with files_upload_v2 and shared into a channel."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None
    t: float


@dataclass(frozen=True)
class ResponseUrlPost:
    """A POST to a slash command's ``response_url``."""

    t: float
    url: str
    body: Any


@dataclass
class StoredFile:
    """A file held by the fake, downloadable with the bot token."""

    id: str
    name: str
    mimetype: str
    content: bytes | None
    user: str
    title: str | None = None


# -- rate limiters ------------------------------------------------------------------


class _SlidingWindow:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.hits: deque[float] = deque()

    def acquire(self, now: float) -> float | None:
        """Take a slot; return None, or the seconds until one frees."""
        while self.hits and self.hits[0] <= now - self.window:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return self.hits[0] + self.window - now
        self.hits.append(now)
        return None


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.last: float | None = None

    def acquire(self, now: float) -> float | None:
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        # A small epsilon so that a post exactly one period later is not refused for float noise.
        if self.tokens >= 1 - 1e-9:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


def _check_blocks(blocks: list[Any] | None) -> None:
    """Slack's checks on the blocks this project sends (section text at most 3,000 characters; actions of
    up to 25 buttons, each with a plain-text label of at most 75 and an action_id of at most 255, unique)."""
    seen: set[str] = set()
    for block in blocks or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "section":
            text = (block.get("text") or {}).get("text") if isinstance(block.get("text"), dict) else None
            if not isinstance(text, str) or not 1 <= len(text) <= 3000:
                raise _ApiError("invalid_blocks")
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                raise _ApiError("invalid_blocks")
            for element in elements:
                label = (element.get("text") or {}).get("text") if isinstance(element, dict) else None
                action_id = element.get("action_id") if isinstance(element, dict) else None
                if element.get("type") != "button" or not isinstance(label, str) or not 1 <= len(label) <= 75:
                    raise _ApiError("invalid_blocks")
                if not isinstance(action_id, str) or len(action_id) > 255 or action_id in seen:
                    raise _ApiError("invalid_blocks")
                seen.add(action_id)
        elif kind not in ("rich_text", "context", "divider", "markdown"):
            raise _ApiError("invalid_blocks")


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Call:
    method: str
    params: dict[str, Any]
    channel: str | None = None
    ts: str | None = None
    text: str | None = None


# Fields that carry JSON when sent form-encoded; others (text!) stay verbatim.
_JSON_FIELDS = frozenset({"blocks", "chunks", "files", "attachments", "metadata", "loading_messages"})


def _jsonish(value: Any) -> Any:
    """Decode a JSON string sent in a form field (blocks, chunks, files)."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _chunks_text(chunks: Any) -> str:
    if not isinstance(chunks, list):
        return ""
    return "".join(c.get("text", "") for c in chunks if isinstance(c, dict) and c.get("type") == "markdown_text")


# -- the server -----------------------------------------------------------------------


class FakeSlack(ThreadedServer):
    """Slack Web API and Socket Mode on ``127.0.0.1``, with a test-side API.

    Test-side methods are thread-safe and may be called from the test thread
    (sync or async tests); those that deliver envelopes block until the
    envelope is written to the connected sockets (or queued).
    """

    def __init__(
        self,
        bot_token: str = "xoxb-fake",
        app_token: str = "xapp-fake",
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        limits: SlackLimits | None = None,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = APP_ID
        self.limits = limits if limits is not None else SlackLimits()

        self._lock = threading.RLock()
        self._messages: dict[str, list[SlackMessage]] = {}
        self._files: dict[str, StoredFile] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._upload_slots: dict[str, dict[str, Any]] = {}
        self._tickets: set[str] = set()
        self._sockets: dict[int, web.WebSocketResponse] = {}
        # None: every envelope goes to every open connection (as retries and HTTP mode redeliver
        # to several processes); n: only to the n-th open connection (oldest first), as Socket Mode
        # hands each envelope to one connection of the app.
        self.deliver_to: int | None = None
        # Channel id -> Slack error: every call aimed at it fails so (a DM the app may not write to).
        self.refused_channels: dict[str, str] = {}
        self._pending: list[str] = []
        self._windows: dict[Any, _SlidingWindow | _TokenBucket] = {}
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._conn_ids = itertools.count(1)

        self.log: list[LogEntry] = []
        self.rate_limited: list[LogEntry] = []
        self.acks: list[Ack] = []
        self.envelopes: list[dict[str, Any]] = []
        self.uploads: list[Upload] = []
        self.statuses: list[StatusCall] = []
        self.reactions: list[tuple[str, str, str]] = []
        self.response_url_posts: list[ResponseUrlPost] = []
        self.client_messages: list[Any] = []
        self.ephemerals: list[dict[str, Any]] = []  # chat.postEphemeral calls: channel, user, text, thread_ts
        self.downloads: list[str] = []  # ids of the files fetched from the file host
        self.connections_total = 0
        self._drops: dict[str, int] = {}
        # Users of another team (Slack Connect guests, other Grid workspaces): user id -> their team,
        # or None for events that carry no ``user_team`` at all.
        self.user_teams: dict[str, str | None] = {}

        self._methods: dict[str, Callable[[_Call], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._connections_open,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "conversations.open": self._conversations_open,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "assistant.threads.setStatus": self._set_status,
            "reactions.add": self._reactions_add,
        }

    # -- addresses ------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """Base URL for ``AsyncWebClient(base_url=...)``."""
        return f"{self.url}/api/"

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel id with ``user_id`` (stable: ``"D" + user_id``)."""
        return f"D{user_id}"

    # -- aiohttp app ----------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload_bytes)
        app.router.add_get("/files-pri/{key}/{name:.*}", self._download)
        app.router.add_post("/commands/{tail:.*}", self._response_url)
        app.router.add_post("/actions/{tail:.*}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.on_shutdown.append(self._close_sockets)
        return app

    # -- Web API dispatch -------------------------------------------------------
    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    params[key] = value.file.read() if hasattr(value, "file") else value
        return {k: _jsonish(v) if k in _JSON_FIELDS else v for k, v in params.items()}

    async def _api(self, request: web.Request) -> web.Response:
        t = time.perf_counter()
        method = request.match_info["method"]
        params = await self._read_params(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else params.pop("token", None)
        params.pop("token", None)
        call = _Call(method, params)
        status, body, retry_after = 200, {"ok": True}, None
        with self._lock:
            try:
                handler = self._methods.get(method)
                if handler is None:
                    raise _ApiError("unknown_method")
                expected = self.app_token if method == "apps.connections.open" else self.bot_token
                if not token:
                    raise _ApiError("not_authed")
                if token != expected:
                    raise _ApiError("invalid_auth")
                refused = self.refused_channels.get(self._param_channel(params) or "")
                if refused is not None:
                    raise _ApiError(refused)
                wait = self._rate_check(call, time.monotonic())
                if wait is not None:
                    status, body = 429, {"ok": False, "error": "ratelimited"}
                    retry_after = max(1, math.ceil(wait))
                else:
                    body = {"ok": True, **handler(call)}
            except _ApiError as exc:
                body = {"ok": False, "error": exc.error, **exc.extra}
            entry = LogEntry(
                t=t,
                method=method,
                channel=call.channel if call.channel is not None else self._param_channel(params),
                ts=call.ts if call.ts is not None else params.get("ts"),
                status=status,
                ok=bool(body.get("ok")),
                error=body.get("error"),
                text=call.text if call.text is not None else self._param_text(params),
                retry_after=retry_after,
            )
            self.log.append(entry)
            if status == 429:
                self.rate_limited.append(entry)
            drop = status == 200 and self._drops.get(method, 0) > 0
            if drop:
                self._drops[method] -= 1
        if drop and request.transport is not None:
            # The call took effect, but the answer never arrives: the client sees the connection drop.
            request.transport.close()
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response(body, status=status, headers=headers)

    def drop_connection_after(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take effect, then the connection drops before the answer."""
        with self._lock:
            self._drops[method] = self._drops.get(method, 0) + times

    @staticmethod
    def _param_channel(params: dict[str, Any]) -> str | None:
        value = params.get("channel", params.get("channel_id"))
        return value if isinstance(value, str) else None

    @staticmethod
    def _param_text(params: dict[str, Any]) -> str | None:
        if isinstance(params.get("text"), str):
            return params["text"]
        if isinstance(params.get("markdown_text"), str):
            return params["markdown_text"]
        if "chunks" in params:
            return _chunks_text(params["chunks"])
        return None

    def _rate_check(self, call: _Call, now: float) -> float | None:
        lim = self.limits
        method = call.method
        if method == "chat.postMessage":
            if lim.post_per_second_per_channel is None:
                return None
            channel = self._resolve_channel(str(call.params.get("channel", "")))
            key: Any = ("post", channel)
            if key not in self._windows:
                self._windows[key] = _TokenBucket(lim.post_per_second_per_channel, lim.post_burst)
            return self._windows[key].acquire(now)
        per_minute = {
            "chat.update": lim.update_per_minute,
            "chat.startStream": lim.start_stop_stream_per_minute,
            "chat.stopStream": lim.start_stop_stream_per_minute,
            "chat.appendStream": lim.append_stream_per_minute,
            "chat.delete": lim.delete_per_minute,
            "files.getUploadURLExternal": lim.upload_per_minute,
            "conversations.open": lim.open_per_minute,
        }.get(method)
        if per_minute is None:
            return None
        burst = {
            "chat.update": lim.update_burst,
            "chat.startStream": lim.stream_burst,
            "chat.stopStream": lim.stream_burst,
            "chat.appendStream": lim.append_burst,
        }.get(method)
        if method not in self._windows:
            self._windows[method] = (
                _TokenBucket(per_minute / lim.minute, burst)
                if burst is not None
                else _SlidingWindow(per_minute, lim.minute)
            )
        return self._windows[method].acquire(now)

    def reset_limits(self) -> None:
        """Forget all rate-limit history (windows start empty again)."""
        with self._lock:
            self._windows.clear()

    # -- state helpers (call with the lock held) ---------------------------------
    def _next_ts(self) -> str:
        us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _resolve_channel(self, channel: str) -> str:
        # Slack accepts a user id as channel and posts into the app's DM with that user.
        if channel[:1] in ("U", "W"):
            return self.dm_channel(channel)
        return channel

    def _store(self, msg: SlackMessage) -> SlackMessage:
        self._messages.setdefault(msg.channel, []).append(msg)
        return msg

    def _find(self, channel: str, ts: str) -> SlackMessage | None:
        for msg in self._messages.get(channel, []):
            if msg.ts == ts:
                return msg
        return None

    def _require_message(self, call: _Call) -> SlackMessage:
        channel = self._resolve_channel(str(call.params.get("channel", "")))
        ts = str(call.params.get("ts", ""))
        call.channel, call.ts = channel, ts
        if not channel:
            raise _ApiError("channel_not_found")
        msg = self._find(channel, ts)
        if msg is None:
            raise _ApiError("message_not_found")
        return msg

    def _user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self._users:
            name = "captainslog" if user_id == self.bot_user_id else user_id.lower()
            self._users[user_id] = {
                "id": user_id,
                # The member's own team: a guest's other team, else the workspace's (set_user changes it).
                "team_id": self.user_teams.get(user_id) or self.team_id,
                "name": name,
                "real_name": f"User {user_id}",
                "tz": "Europe/Paris",
                "tz_label": "Central European Time",
                "tz_offset": 3600,
                "is_bot": user_id == self.bot_user_id,
                "deleted": False,
                "profile": {
                    "display_name": name,
                    "real_name": f"User {user_id}",
                    "email": f"{user_id.lower()}@example.com",
                },
            }
        return self._users[user_id]

    def _file_object(self, f: StoredFile) -> dict[str, Any]:
        quoted = urllib.parse.quote(f.name)
        base = f"{self.url}/files-pri/{self.team_id}-{f.id}"
        size = len(f.content) if f.content is not None else 0
        return {
            "id": f.id,
            "name": f.name,
            "title": f.title or f.name,
            "mimetype": f.mimetype,
            "filetype": f.name.rsplit(".", 1)[-1].lower() if "." in f.name else "binary",
            "size": size,
            "user": f.user,
            "mode": "hosted",
            "is_external": False,
            "url_private": f"{base}/{quoted}",
            "url_private_download": f"{base}/download/{quoted}",
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{f.user}/{f.id}/{quoted}",
        }

    def _bot_message(self, channel: str, text: str, thread_ts: str | None, **kw: Any) -> SlackMessage:
        return self._store(
            SlackMessage(
                channel=channel,
                ts=self._next_ts(),
                text=text,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                thread_ts=thread_ts,
                **kw,
            )
        )

    # -- Web API methods (lock held; return the body without "ok") ------------------
    def _auth_test(self, call: _Call) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Fake Workspace",
            "user": "captainslog",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _connections_open(self, call: _Call) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={self.app_id}"}

    def _post_message(self, call: _Call) -> dict[str, Any]:
        p = call.params
        channel = self._resolve_channel(str(p.get("channel", "")))
        call.channel = channel
        if not channel:
            raise _ApiError("channel_not_found")
        text = p.get("text")
        if text is None and isinstance(p.get("markdown_text"), str):
            text = p["markdown_text"]
        blocks = p.get("blocks") if isinstance(p.get("blocks"), list) else None
        if not text and not blocks and not p.get("attachments"):
            raise _ApiError("no_text")
        _check_blocks(blocks)
        text = str(text or "")
        call.text = text
        if self.limits.post_max_chars is not None and len(text) > self.limits.post_max_chars:
            raise _ApiError("msg_too_long")
        thread_ts = p.get("thread_ts") or None
        metadata = p.get("metadata") if isinstance(p.get("metadata"), dict) else None
        msg = self._bot_message(channel, text, thread_ts, blocks=blocks, metadata=metadata)
        call.ts = msg.ts
        return {"channel": channel, "ts": msg.ts, "message": msg.to_api()}

    def _post_ephemeral(self, call: _Call) -> dict[str, Any]:
        """A message only ``user`` sees; recorded in :attr:`ephemerals`, not in the channel."""
        p = call.params
        channel = self._resolve_channel(str(p.get("channel", "")))
        call.channel = channel
        if not channel:
            raise _ApiError("channel_not_found")
        if not p.get("user"):
            raise _ApiError("user_not_in_channel")
        text = str(p.get("text") or "")
        if not text:
            raise _ApiError("no_text")
        call.text = text
        self.ephemerals.append(
            {"channel": channel, "user": str(p["user"]), "text": text, "thread_ts": p.get("thread_ts") or None}
        )
        return {"message_ts": self._next_ts()}

    def _update(self, call: _Call) -> dict[str, Any]:
        p = call.params
        msg = self._require_message(call)
        text = p.get("text")
        if text is None and isinstance(p.get("markdown_text"), str):
            text = p["markdown_text"]
        call.text = text
        if text is not None and self.limits.update_max_chars is not None and len(text) > self.limits.update_max_chars:
            raise _ApiError("msg_too_long")
        if msg.bot_id is None or msg.streaming:
            raise _ApiError("cant_update_message")
        if text is not None:
            msg.text = str(text)
        if isinstance(p.get("blocks"), list):
            _check_blocks(p["blocks"])
            msg.blocks = p["blocks"]
        msg.edited = True
        return {"channel": msg.channel, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}

    def _delete(self, call: _Call) -> dict[str, Any]:
        msg = self._require_message(call)
        if msg.bot_id is None:
            raise _ApiError("cant_delete_message")
        self._messages[msg.channel].remove(msg)
        return {"channel": msg.channel, "ts": msg.ts}

    def _stream_text(self, call: _Call) -> str:
        p = call.params
        text = (p.get("markdown_text") or "") + _chunks_text(p.get("chunks"))
        call.text = text
        cap = self.limits.stream_text_max_chars
        if cap is not None and len(text) > cap:
            raise _ApiError("msg_too_long")
        return text

    def _start_stream(self, call: _Call) -> dict[str, Any]:
        p = call.params
        channel = self._resolve_channel(str(p.get("channel", "")))
        call.channel = channel
        if not channel:
            raise _ApiError("channel_not_found")
        if not p.get("thread_ts"):
            raise _ApiError("invalid_arguments")
        text = self._stream_text(call)
        msg = self._bot_message(
            channel,
            text,
            str(p["thread_ts"]),
            streaming=True,
            chunks=list(p.get("chunks") or []),
            recipient_user_id=p.get("recipient_user_id"),
            recipient_team_id=p.get("recipient_team_id"),
        )
        call.ts = msg.ts
        return {"channel": channel, "ts": msg.ts}

    def _append_stream(self, call: _Call) -> dict[str, Any]:
        msg = self._require_message(call)
        text = self._stream_text(call)
        if not msg.streaming:
            raise _ApiError("message_not_in_streaming_state")
        msg.text += text
        msg.chunks.extend(call.params.get("chunks") or [])
        return {"channel": msg.channel, "ts": msg.ts}

    def _stop_stream(self, call: _Call) -> dict[str, Any]:
        msg = self._require_message(call)
        text = self._stream_text(call)
        if not msg.streaming:
            raise _ApiError("message_not_in_streaming_state")
        msg.text += text
        msg.chunks.extend(call.params.get("chunks") or [])
        if isinstance(call.params.get("blocks"), list):
            msg.blocks = call.params["blocks"]
        msg.streaming = False
        return {"channel": msg.channel, "ts": msg.ts, "message": msg.to_api()}

    def _conversations_open(self, call: _Call) -> dict[str, Any]:
        p = call.params
        if p.get("channel"):
            call.channel = str(p["channel"])
            return {"channel": {"id": call.channel}}
        users = [u for u in str(p.get("users", "")).split(",") if u]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) == 1:
            channel = self.dm_channel(users[0])
            info: dict[str, Any] = {"id": channel, "is_im": True, "user": users[0]}
        else:
            digest = hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()[:8].upper()
            channel = f"G{digest}"
            info = {"id": channel, "is_mpim": True}
        call.channel = channel
        return {"channel": info, "no_op": True, "already_open": True}

    def _users_info(self, call: _Call) -> dict[str, Any]:
        user_id = str(call.params.get("user", ""))
        if not user_id:
            raise _ApiError("user_not_found")
        return {"user": copy.deepcopy(self._user(user_id))}

    def _history(self, call: _Call) -> dict[str, Any]:
        channel = str(call.params.get("channel", ""))
        call.channel = channel
        top = [m for m in self._messages.get(channel, []) if m.thread_ts in (None, m.ts)]
        limit = int(call.params.get("limit") or 100)
        newest_first = list(reversed(top))[:limit]
        return {"messages": [m.to_api() for m in newest_first], "has_more": len(top) > limit}

    def _replies(self, call: _Call) -> dict[str, Any]:
        channel = str(call.params.get("channel", ""))
        ts = str(call.params.get("ts", ""))
        call.channel, call.ts = channel, ts
        root = self._find(channel, ts)
        if root is None:
            raise _ApiError("thread_not_found")
        thread = [m for m in self._messages.get(channel, []) if m.ts == ts or m.thread_ts == ts]
        return {"messages": [m.to_api() for m in thread], "has_more": False}

    def _get_upload_url(self, call: _Call) -> dict[str, Any]:
        p = call.params
        filename = str(p.get("filename") or "")
        if not filename or p.get("length") in (None, ""):
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self._upload_slots[file_id] = {"filename": filename, "length": int(p["length"]), "content": None}
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, call: _Call) -> dict[str, Any]:
        p = call.params
        files = p.get("files")
        if not isinstance(files, list) or not files:
            raise _ApiError("invalid_arguments")
        channel = p.get("channel_id") or None
        if channel is None and p.get("channels"):
            channel = str(p["channels"]).split(",")[0]
        channel = self._resolve_channel(channel) if channel else None
        thread_ts = p.get("thread_ts") or None
        comment = p.get("initial_comment") or None
        call.channel, call.text = channel, comment
        stored: list[StoredFile] = []
        for item in files:
            slot = self._upload_slots.get(str(item.get("id")))
            if slot is None or slot["content"] is None:
                raise _ApiError("file_not_found")
            stored.append(
                StoredFile(
                    id=str(item["id"]),
                    name=slot["filename"],
                    mimetype=mimetypes.guess_type(slot["filename"])[0] or "application/octet-stream",
                    content=slot["content"],
                    user=self.bot_user_id,
                    title=item.get("title"),
                )
            )
        t = time.perf_counter()
        objects = []
        for f in stored:
            del self._upload_slots[f.id]
            self._files[f.id] = f
            obj = self._file_object(f)
            if channel:
                obj["channels"] = [channel]
            objects.append(obj)
            self.uploads.append(
                Upload(
                    file_id=f.id,
                    filename=f.name,
                    title=f.title,
                    content=f.content or b"",
                    channel=channel,
                    thread_ts=thread_ts,
                    initial_comment=comment,
                    t=t,
                )
            )
        if channel:
            msg = self._bot_message(channel, comment or "", thread_ts, files=objects)
            call.ts = msg.ts
        return {"files": objects}

    def _set_status(self, call: _Call) -> dict[str, Any]:
        p = call.params
        call.channel, call.ts, call.text = p.get("channel_id"), p.get("thread_ts"), p.get("status")
        if not p.get("channel_id") or not p.get("thread_ts") or "status" not in p:
            raise _ApiError("invalid_arguments")
        loading = p.get("loading_messages")
        self.statuses.append(
            StatusCall(
                t=time.perf_counter(),
                channel_id=str(p["channel_id"]),
                thread_ts=str(p["thread_ts"]),
                status=str(p["status"]),
                loading_messages=loading if isinstance(loading, list) else None,
            )
        )
        return {}

    def _reactions_add(self, call: _Call) -> dict[str, Any]:
        p = call.params
        channel = self._resolve_channel(str(p.get("channel", "")))
        ts = str(p.get("timestamp", ""))
        name = str(p.get("name", ""))
        call.channel, call.ts, call.text = channel, ts, name
        msg = self._find(channel, ts)
        if msg is None:
            raise _ApiError("message_not_found")
        if name in msg.reactions:
            raise _ApiError("already_reacted")
        msg.reactions.append(name)
        self.reactions.append((channel, ts, name))
        return {}

    # -- other HTTP endpoints ---------------------------------------------------
    async def _upload_bytes(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        with self._lock:
            slot = self._upload_slots.get(file_id)
            if slot is None:
                return web.Response(status=404, text="no such upload")
            slot["content"] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _download(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.bot_token}":
            return web.Response(status=403, text="forbidden")
        key = request.match_info["key"]
        file_id = key.split("-", 1)[1] if "-" in key else key
        with self._lock:
            f = self._files.get(file_id)
            self.downloads.append(file_id)
        if f is None or f.content is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=f.content, content_type=f.mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.response_url_posts.append(ResponseUrlPost(t=time.perf_counter(), url=str(request.url), body=body))
        return web.Response(text="ok", content_type="text/plain")

    # -- Socket Mode -----------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            known = request.query.get("ticket", "") in self._tickets
        if not known:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn_id = next(self._conn_ids)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets) + 1,
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_str(json.dumps(hello))
        self._sockets[conn_id] = ws
        self.connections_total += 1
        pending, self._pending = self._pending, []
        for data in pending:
            await ws.send_str(data)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_text(conn_id, msg.data)
        finally:
            self._sockets.pop(conn_id, None)
        return ws

    def _on_client_text(self, conn_id: int, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            self.client_messages.append(data)
            return
        if isinstance(message, dict) and "envelope_id" in message:
            self.acks.append(
                Ack(
                    envelope_id=str(message["envelope_id"]),
                    payload=message.get("payload"),
                    t=time.perf_counter(),
                    connection_id=conn_id,
                )
            )
        else:
            self.client_messages.append(message)

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets.values()):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    async def _send_all(self, data: str) -> int:
        sent = 0
        sockets = list(self._sockets.values())
        if self.deliver_to is not None:
            sockets = sockets[self.deliver_to : self.deliver_to + 1]
        for ws in sockets:
            try:
                await ws.send_str(data)
                sent += 1
            except (ConnectionError, RuntimeError):
                continue
        if sent == 0:
            self._pending.append(data)
        return sent

    def connected_clients(self) -> int:
        """Number of Socket Mode connections currently open."""
        return len(self._sockets)

    def send_envelope(
        self, envelope_type: str, payload: dict[str, Any], accepts_response_payload: bool = False
    ) -> dict[str, Any]:
        """Deliver a raw envelope (``events_api``, ``slash_commands``, ``interactive``) and return it."""
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self.envelopes.append(envelope)
        self.call(self._send_all, json.dumps(envelope))
        return envelope

    def disconnect_clients(self, reason: str = "refresh_requested") -> None:
        """Send Slack's ``disconnect`` message; slack_sdk then reconnects with a new URL."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}

        async def send() -> None:
            for ws in list(self._sockets.values()):
                await ws.send_str(json.dumps(message))

        self.call(send)

    def close_clients(self) -> None:
        """Close every Socket Mode connection from the server side."""

        async def close() -> None:
            for ws in list(self._sockets.values()):
                await ws.close(code=WSCloseCode.GOING_AWAY)

        self.call(close)

    # -- acks --------------------------------------------------------------------------
    def _ack_for(self, envelope: str | dict[str, Any] | None) -> Callable[[], Ack | None]:
        if envelope is None:
            assert self.envelopes, "no envelope sent yet"
            envelope = self.envelopes[-1]
        envelope_id = envelope["envelope_id"] if isinstance(envelope, dict) else envelope

        def find() -> Ack | None:
            return next((a for a in self.acks if a.envelope_id == envelope_id), None)

        return find

    def wait_for_ack(self, envelope: str | dict[str, Any] | None = None, timeout: float = 5.0) -> Ack:
        """Block until the envelope (id, dict, or None for the last one) is acked."""
        return self.wait_for(self._ack_for(envelope), timeout)

    async def await_ack(self, envelope: str | dict[str, Any] | None = None, timeout: float = 5.0) -> Ack:
        """Async :meth:`wait_for_ack`, for tests whose own loop runs the client."""
        return await self.await_for(self._ack_for(envelope), timeout)

    def envelope_for_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The events_api envelope that carried ``event`` (the last one if sent twice)."""
        for envelope in reversed(self.envelopes):
            if envelope["type"] == "events_api" and envelope["payload"].get("event") == event:
                return envelope
        raise KeyError("event was not delivered")

    # -- waiting ----------------------------------------------------------------------
    @staticmethod
    def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01) -> T:
        """Poll ``predicate`` until it returns a truthy value and return that value.

        Blocks the calling thread: in an async test whose loop runs the Slack
        client use :meth:`await_for`, or the client cannot make progress.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    @staticmethod
    async def await_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01) -> T:
        """Async version of :meth:`wait_for`."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(interval)

    # -- queries ------------------------------------------------------------------------
    def channel_messages(self, channel_id: str) -> list[SlackMessage]:
        """Copies of the channel's messages (users' and bot's, thread replies too) in ts order."""
        with self._lock:
            return copy.deepcopy(sorted(self._messages.get(channel_id, []), key=lambda m: float(m.ts)))

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        """A copy of one stored message, or None."""
        with self._lock:
            msg = self._find(channel, ts)
            return copy.deepcopy(msg) if msg is not None else None

    def calls(self, method: str) -> list[LogEntry]:
        """Log entries of one Web API method."""
        return [e for e in self.log if e.method == method]

    def set_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Override fields of a user returned by users.info (``profile`` is merged)."""
        with self._lock:
            user = self._user(user_id)
            profile = fields.pop("profile", None)
            user.update(fields)
            if profile:
                user["profile"].update(profile)
            return copy.deepcopy(user)

    def reset(self) -> None:
        """Clear messages, records and rate-limit windows (connections stay)."""
        with self._lock:
            self._messages.clear()
            self._windows.clear()
            self._pending.clear()
            for records in (
                self.log,
                self.rate_limited,
                self.acks,
                self.envelopes,
                self.uploads,
                self.statuses,
                self.reactions,
                self.response_url_posts,
                self.client_messages,
            ):
                records.clear()

    # -- building events ----------------------------------------------------------------
    def _channel_type(self, channel: str) -> str:
        return "im" if channel.startswith("D") else "channel"

    def _user_message(
        self,
        channel: str,
        user_id: str,
        text: str,
        thread_ts: str | None,
        channel_type: str,
        files: Sequence[tuple[str, bytes, str]] = (),
    ) -> dict[str, Any]:
        """Store a user's message and return its ``message`` event (lock held)."""
        file_objects = []
        for filename, content, mimetype in files:
            f = StoredFile(
                id=f"F{next(self._ids):08d}", name=filename, mimetype=mimetype, content=content, user=user_id
            )
            self._files[f.id] = f
            file_objects.append(self._file_object(f))
        msg = self._store(
            SlackMessage(
                channel=channel, ts=self._next_ts(), text=text, user=user_id, thread_ts=thread_ts, files=file_objects
            )
        )
        event: dict[str, Any] = {
            "type": "message",
            "user": user_id,
            "text": text,
            "ts": msg.ts,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
            "channel": channel,
            "event_ts": msg.ts,
            "channel_type": channel_type,
        }
        user_team = self.user_teams.get(user_id, self.team_id)
        if user_team is not None:
            event["user_team"] = user_team  # the author's own team, as Slack sends it
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
            root = self._find(channel, thread_ts)
            if root is not None:
                event["parent_user_id"] = root.user
        if file_objects:
            event.update(subtype="file_share", files=file_objects, upload=False, display_as_bot=False)
        return event

    def event_payload(self, event: dict[str, Any]) -> dict[str, Any]:
        """Wrap an event into the ``event_callback`` body Slack sends."""
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-fake-{uuid.uuid4().hex[:12]}",
        }

    def _deliver_event(self, event: dict[str, Any]) -> dict[str, Any]:
        self.send_envelope("events_api", self.event_payload(event))
        return event

    def build_dm_event(
        self,
        user_id: str,
        text: str,
        files: Sequence[tuple[str, bytes, str]] = (),
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Store a DM from ``user_id`` and return its message event without delivering it."""
        with self._lock:
            return self._user_message(self.dm_channel(user_id), user_id, text, thread_ts, "im", files)

    def event_body(self, event: dict[str, Any] | None = None, **dm: Any) -> str:
        """The ``event_callback`` JSON for ``event``, for POSTing to the bot's HTTP endpoint.

        Without ``event``, builds (and stores) a DM like :meth:`user_sends_dm` from
        the keyword arguments of :meth:`build_dm_event`.
        """
        if event is None:
            event = self.build_dm_event(**dm)
        return json.dumps(self.event_payload(event))

    @staticmethod
    def url_verification_body(challenge: str = "fake-challenge") -> str:
        """The body Slack POSTs when the Events Request URL is set."""
        return json.dumps({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"})

    @staticmethod
    def signed_request(signing_secret: str, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
        """Headers Slack sends with an HTTP-mode request: signature, timestamp, content type."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        ts = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new(signing_secret.encode(), f"v0:{ts}:{text}".encode(), hashlib.sha256).hexdigest()
        ctype = "application/json" if text.lstrip().startswith("{") else "application/x-www-form-urlencoded"
        return {
            "X-Slack-Signature": f"v0={digest}",
            "X-Slack-Request-Timestamp": str(ts),
            "Content-Type": ctype,
        }

    # -- test-side actions ------------------------------------------------------------------
    def user_sends_dm(
        self,
        user_id: str,
        text: str,
        files: Sequence[tuple[str, bytes, str]] = (),
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A user writes to the bot in their DM; returns the delivered message event.

        ``files`` are ``(filename, content, mimetype)``; they appear in the event
        (subtype ``file_share``) and download from ``url_private_download`` with
        the bot token.
        """
        return self._deliver_event(self.build_dm_event(user_id, text, files, thread_ts))

    def user_mentions_bot(
        self, channel_id: str, user_id: str, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A user @-mentions the bot in a channel; returns the ``app_mention`` event.

        Like Slack, also delivers the plain ``message`` event of the same message.
        """
        mention = f"<@{self.bot_user_id}>"
        full = text if mention in text else f"{mention} {text}"
        with self._lock:
            message_event = self._user_message(channel_id, user_id, full, thread_ts, self._channel_type(channel_id))
        app_mention = {
            k: v
            for k, v in message_event.items()
            if k
            in ("user", "text", "ts", "team", "user_team", "client_msg_id", "channel", "event_ts", "thread_ts", "files")
        }
        app_mention["type"] = "app_mention"
        self._deliver_event(app_mention)
        self._deliver_event(message_event)
        return app_mention

    def user_sends_in_thread(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        thread_ts: str,
        channel_type: str | None = None,
    ) -> dict[str, Any]:
        """A user replies in a thread; returns the delivered message event."""
        with self._lock:
            event = self._user_message(
                channel_id, user_id, text, thread_ts, channel_type or self._channel_type(channel_id)
            )
        return self._deliver_event(event)

    def user_edits(self, channel: str, ts: str, new_text: str) -> dict[str, Any]:
        """A user edits their message; returns the ``message_changed`` event."""
        with self._lock:
            msg = self._find(channel, ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel}")
            previous = msg.to_api()
            msg.text = new_text
            msg.edited = True
            now = self._next_ts()
            new = msg.to_api()
            new["edited"] = {"user": msg.user, "ts": now}
            event = {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "message": new,
                "previous_message": previous,
                "channel": channel,
                "ts": now,
                "event_ts": now,
                "channel_type": self._channel_type(channel),
            }
        return self._deliver_event(event)

    def user_deletes(self, channel: str, ts: str) -> dict[str, Any]:
        """A user deletes a message; returns the ``message_deleted`` event."""
        with self._lock:
            msg = self._find(channel, ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel}")
            self._messages[channel].remove(msg)
            now = self._next_ts()
            event = {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "deleted_ts": ts,
                "previous_message": msg.to_api(),
                "channel": channel,
                "ts": now,
                "event_ts": now,
                "channel_type": self._channel_type(channel),
            }
        return self._deliver_event(event)

    def slash_command_payload(
        self, user_id: str, command: str, text: str = "", channel_id: str | None = None
    ) -> dict[str, str]:
        """The form fields of a slash command invocation (what HTTP mode POSTs, url-encoded)."""
        channel = channel_id or self.dm_channel(user_id)
        n = next(self._ids)
        with self._lock:
            user_name = self._user(user_id)["name"]
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.user_teams.get(user_id) or self.team_id,  # a command always says the caller's team
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self.url}/commands/{self.team_id}/{n}/{uuid.uuid4().hex}",
            "trigger_id": f"{n}.{int(time.time())}.{uuid.uuid4().hex[:16]}",
        }

    def slash_command_body(self, user_id: str, command: str, text: str = "", channel_id: str | None = None) -> str:
        """:meth:`slash_command_payload` url-encoded, for POSTing to the bot's HTTP endpoint."""
        return urllib.parse.urlencode(self.slash_command_payload(user_id, command, text, channel_id))

    def slash_command(
        self, user_id: str, command: str, text: str = "", channel_id: str | None = None
    ) -> dict[str, Any]:
        """A user runs ``command``; returns the delivered ``slash_commands`` envelope."""
        payload = self.slash_command_payload(user_id, command, text, channel_id)
        return self.send_envelope("slash_commands", payload, accepts_response_payload=True)

    def press_button(self, user_id: str, channel_id: str, ts: str, action_id: str) -> dict[str, Any]:
        """A user presses a button of a message; returns the delivered ``interactive`` envelope (block_actions).

        Raises ``LookupError`` when the message shows no button with that ``action_id`` (a press
        took the buttons away, say).
        """
        with self._lock:
            msg = self._find(channel_id, ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel_id}")
            buttons = [
                (block.get("block_id", ""), element)
                for block in msg.blocks or []
                if block.get("type") == "actions"
                for element in block.get("elements") or []
            ]
            found = next(((b, e) for b, e in buttons if e.get("action_id") == action_id), None)
            if found is None:
                raise LookupError(f"message {ts} shows no button {action_id!r}")
            block_id, element = found
            team = self.user_teams.get(user_id) or self.team_id
            name = self._user(user_id)["name"]
            shown = msg.to_api()
        n = next(self._ids)
        payload = {
            "type": "block_actions",
            "user": {"id": user_id, "username": name, "name": name, "team_id": team},
            "api_app_id": self.app_id,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": ts, "channel_id": channel_id, "is_ephemeral": False},
            "trigger_id": f"{n}.{int(time.time())}.{uuid.uuid4().hex[:16]}",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "directmessage" if channel_id.startswith("D") else "general"},
            "message": shown,
            "state": {"values": {}},
            "response_url": f"{self.url}/actions/{self.team_id}/{n}/{uuid.uuid4().hex}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": element.get("text"),
                    "value": element.get("value"),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.send_envelope("interactive", payload)

    def texts(self, channel_id: str, bot_only: bool = True) -> list[str]:
        """Current texts of the channel's messages (the bot's only, by default)."""
        return [m.text for m in self.channel_messages(channel_id) if m.is_bot or not bot_only]
