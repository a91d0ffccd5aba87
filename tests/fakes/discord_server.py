"""A fake Discord (REST API v10 + gateway) on loopback for the real discord.py client.

Point discord.py at it with::

    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

The fake behaves like Discord where a bot can get it wrong: bot-token auth,
per-channel rate-limit buckets with Discord's headers and 429 bodies, a global
requests-per-second limit, content-length and empty-message validation, the
interaction acknowledgement deadline, the "first follow-up after a defer edits
the loading message" rule, message components (action rows of buttons, checked
like Discord: five a row, labels of 80, unique custom ids of 100; a press with
``fake.press_button(...)`` is an INTERACTION_CREATE of type 3 that callback type 7
answers by updating the pressed message), the privileged message-content intent, and the
gateway handshake (HELLO, heartbeats, IDENTIFY, READY, GUILD_CREATE), with
zlib-stream transport compression when the client asks for it.

The test side drives it from any thread: ``fake.user_sends_dm(...)``,
``fake.invoke_command(...)`` and friends dispatch gateway events to every
connected bot, and ``fake.channel_messages(...)``, ``fake.log``,
``fake.rate_limited`` and friends report what the bot did.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import mimetypes
import re
import secrets
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import WSMsgType, web

from .base import ThreadedServer

JSON = dict[str, Any]
T = TypeVar("T")

DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"

# Gateway intents that decide which events a session receives.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15

# Permission bits, so that discord.py's local permission checks pass in guild channels.
_P = {
    "add_reactions": 1 << 6,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "use_external_emojis": 1 << 18,
    "use_application_commands": 1 << 31,
    "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35,
    "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38,
}
EVERYONE_PERMISSIONS = sum(
    _P[k]
    for k in (
        "add_reactions",
        "view_channel",
        "send_messages",
        "embed_links",
        "attach_files",
        "read_message_history",
        "use_external_emojis",
        "use_application_commands",
        "create_public_threads",
        "create_private_threads",
        "send_messages_in_threads",
    )
)
BOT_ROLE_PERMISSIONS = EVERYONE_PERMISSIONS | _P["manage_messages"] | _P["manage_threads"]
DM_APP_PERMISSIONS = EVERYONE_PERMISSIONS

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
_SETTABLE_MESSAGE_FLAGS = (1 << 2) | (1 << 12) | MESSAGE_FLAG_EPHEMERAL | (1 << 15)

# How long Discord remembers a message nonce sent with enforce_nonce ("a few minutes").
NONCE_MEMORY = 180.0
_COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
_MENTION_RE = re.compile(r"<@!?(\d+)>")


# --------------------------------------------------------------------------- #
# Public configuration and record types
# --------------------------------------------------------------------------- #
@dataclass
class DiscordLimits:
    """Limits the fake enforces; set any of them to ``None`` (or 0) to disable it.

    Bucket limits are ``(requests, window_seconds)`` per channel (or per
    interaction token for ``webhook``), with Discord's fixed-window semantics:
    a window opens at the first request after the previous window expired.
    """

    channel_send: tuple[int, float] | None = (5, 5.0)
    channel_edit: tuple[int, float] | None = (5, 5.0)
    reaction: tuple[int, float] | None = (1, 0.25)
    #: interaction follow-ups: POST and PATCH each get this bucket per token (approximate).
    webhook: tuple[int, float] | None = (5, 2.0)
    global_per_second: int | None = 50
    max_content: int | None = 2000
    max_upload_bytes: int | None = 10 * 1024 * 1024
    #: seconds an interaction may wait for its callback before Discord forgets it (10062).
    interaction_ack_deadline: float | None = 3.0


@dataclass(frozen=True)
class LogEntry:
    """One REST request as the fake saw it (every request, including 4xx/429).

    ``path`` is relative to ``/api/v10``; ``bucket`` is the rate-limit bucket name
    ("send", "edit", "reaction", "webhook_send", "webhook_edit") or None;
    ``content`` is the message content in the request body, if any; ``scope`` is
    "user" or "global" on a 429.
    """

    t: float
    method: str
    path: str
    bucket: str | None
    channel_id: str | None
    message_id: str | None
    status: int
    content: str | None
    route: str = ""
    scope: str | None = None
    query: str = ""
    allowed_mentions: Any = None  # the request's ``allowed_mentions`` (None when it sent none)
    flags: int | None = None  # the request's message ``flags`` (None when it sent none)


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (message send/edit, interaction response or follow-up)."""

    filename: str
    data: bytes
    content_type: str | None
    channel_id: str | None
    message_id: str | None
    attachment_id: str | None
    t: float


@dataclass(frozen=True)
class TypingEvent:
    """A ``POST /channels/{id}/typing`` the bot made."""

    t: float
    channel_id: str


@dataclass(frozen=True)
class InteractionRecord:
    """An interaction callback or webhook request about an interaction.

    ``kind`` is one of "callback", "followup", "edit_message", "get_message",
    "delete_message"; ``payload`` is the JSON body (``payload_json`` for
    multipart); ``message_id`` is the message created or touched, if any.
    """

    t: float
    kind: str
    interaction_id: str | None
    token: str
    method: str
    path: str
    payload: Any
    files: tuple[Upload, ...]
    status: int
    message_id: str | None
    callback_type: int | None = None


@dataclass(frozen=True)
class GatewayConnection:
    """One websocket connection to the gateway, as of the moment it was read.

    ``query`` is the URL query discord.py used (``v``, ``encoding``, ``compress``);
    ``compress`` is "zlib-stream" when the fake compressed the frames, else None;
    ``intents`` is None until IDENTIFY; ``ops`` counts the opcodes the client sent.
    """

    t: float
    query: dict[str, str]
    compress: str | None
    session_id: str
    identified: bool
    intents: int | None
    open: bool
    ops: dict[int, int]


class _ApiError(Exception):
    """An error response in Discord's format."""

    def __init__(self, status: int, message: str, code: int, errors: JSON | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors


def _component_errors(components: Any) -> JSON:
    """Discord's checks on message components: up to 5 action rows of up to 5 buttons, each button
    with a label of at most 80 characters and a unique custom_id of at most 100 (a link button a url)."""
    if not components:
        return {}
    if not isinstance(components, list) or len(components) > 5:
        return _field_error("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    errors: JSON = {}
    seen: set[str] = set()
    for r, row in enumerate(components):
        items = row.get("components") if isinstance(row, dict) else None
        if not isinstance(row, dict) or row.get("type") != 1 or not isinstance(items, list) or not 1 <= len(items) <= 5:
            errors[str(r)] = _field_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "An action row holds 1 to 5 components.")
            continue
        for i, item in enumerate(items):
            problem = ""
            custom_id = item.get("custom_id")
            if item.get("type") != 2:
                problem = "Only buttons are modelled by this fake."
            elif len(str(item.get("label") or "")) > 80:
                problem = "Must be 80 or fewer in length."
            elif item.get("style") == 5:
                problem = "" if item.get("url") and not custom_id else "A link button has a url and no custom_id."
            elif not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
                problem = "custom_id must be 1 to 100 characters."
            elif custom_id in seen:
                problem = "Component custom id cannot be duplicated"
            if problem:
                errors.setdefault(str(r), {}).setdefault("components", {})[str(i)] = _field_error(
                    "COMPONENT_INVALID", problem
                )
            if isinstance(custom_id, str):
                seen.add(custom_id)
    return errors


def _form_error(errors: JSON) -> _ApiError:
    return _ApiError(400, "Invalid Form Body", 50035, errors)


def _field_error(code: str, message: str) -> JSON:
    return {"_errors": [{"code": code, "message": message}]}


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py only parses the body as JSON when Content-Type is exactly application/json.
    hdrs = {"Content-Type": "application/json"}
    if headers:
        hdrs.update(headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=hdrs)


def _ceil_ms(seconds: float) -> float:
    # Round up so that a client that honours the header never arrives early.
    return max(0.0, math.ceil(seconds * 1000) / 1000)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="microseconds")


def _snowflake_time(snowflake: str) -> datetime:
    return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


# --------------------------------------------------------------------------- #
# Internals: routes, request context, gateway sessions
# --------------------------------------------------------------------------- #
@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[_Ctx], Awaitable[web.StreamResponse]]
    name: str
    bucket: str | None = None
    auth: bool = True
    global_limit: bool = True
    interaction_kind: str | None = None


@dataclass
class _Ctx:
    request: web.Request
    params: dict[str, str]
    t: float
    json: Any = None
    files: list[tuple[str, str, bytes, str | None]] = field(default_factory=list)
    content: str | None = None
    channel_id: str | None = None
    message_id: str | None = None
    uploads: list[Upload] = field(default_factory=list)
    interaction_id: str | None = None
    callback_type: int | None = None


class _GatewaySession:
    """One websocket connection to ``/gateway``."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool, query: dict[str, str]) -> None:
        self.ws = ws
        self.t = time.perf_counter()
        self.query = query
        self.ops: dict[int, int] = {}
        self.compressor = zlib.compressobj() if compress else None
        self.lock = asyncio.Lock()
        self.seq = 0
        self.identified = False
        self.intents = 0
        self.session_id = secrets.token_hex(16)
        self.shard: list[int] | None = None

    def snapshot(self) -> GatewayConnection:
        return GatewayConnection(
            t=self.t,
            query=dict(self.query),
            compress="zlib-stream" if self.compressor is not None else None,
            session_id=self.session_id,
            identified=self.identified,
            intents=self.intents if self.identified else None,
            open=self.open,
            ops=dict(self.ops),
        )

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send_raw(self, payload: JSON) -> None:
        """Send one payload; the caller holds ``lock`` so that the zlib stream stays in order."""
        text = json.dumps(payload, separators=(",", ":"))
        if self.compressor is not None:
            data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(text)

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send an op 0 DISPATCH with the next sequence number."""
        async with self.lock:
            self.seq += 1
            await self.send_raw({"op": 0, "t": event, "s": self.seq, "d": data})


# --------------------------------------------------------------------------- #
# The fake
# --------------------------------------------------------------------------- #
class FakeDiscord(ThreadedServer):
    """Discord's REST API v10 and gateway on ``127.0.0.1``, for the real discord.py client.

    All test-side methods are thread-safe and may be called from the test thread
    (sync or async tests); the ones that dispatch gateway events run on the
    server's loop through :meth:`call`.  Query methods return deep copies.
    """

    def __init__(
        self,
        bot_token: str = "fake-bot-token",
        bot_user_id: str = "1000",
        application_id: str = "1000",
        bot_name: str = "CaptainsLog",
        limits: DiscordLimits | None = None,
        *,
        heartbeat_interval: int = 41250,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.bot_user_id = str(bot_user_id)
        self.application_id = str(application_id)
        self.bot_name = bot_name
        self.limits = limits if limits is not None else DiscordLimits()
        self.heartbeat_interval = heartbeat_interval

        self._lock = threading.RLock()
        self._last_id = 0
        self._users: dict[str, JSON] = {}
        self._guilds: dict[str, JSON] = {}
        self._members: dict[str, dict[str, JSON]] = {}
        self._channels: dict[str, JSON] = {}
        self._channel_order: dict[str, list[str]] = {}
        self._messages: dict[str, JSON] = {}
        self._dm_by_user: dict[str, str] = {}
        self._dms_closed: set[str] = set()
        # enforce_nonce: (channel, nonce) -> (message id, monotonic time) of messages created with it.
        self._nonces: dict[tuple[str, str], tuple[str, float]] = {}
        self._drops: dict[str, int] = {}
        self._downloads: list[str] = []
        self._files: dict[str, tuple[bytes, str | None, str]] = {}
        self._commands: dict[str, list[JSON]] = {"global": []}
        self._interactions: dict[str, JSON] = {}
        self._interaction_by_token: dict[str, str] = {}

        self._log: list[LogEntry] = []
        self._rate_limited: list[LogEntry] = []
        self._typing: list[TypingEvent] = []
        self._uploads: list[Upload] = []
        self._interaction_records: list[InteractionRecord] = []
        self._errors: list[str] = []

        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._global_times: deque[float] = deque()
        self._sessions: list[_GatewaySession] = []
        self._all_sessions: list[_GatewaySession] = []

        self._bot_user: JSON = {
            "id": self.bot_user_id,
            "username": bot_name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "system": False,
            "public_flags": 0,
            "flags": 0,
        }
        self._users[self.bot_user_id] = self._bot_user
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ #
    # Addresses
    # ------------------------------------------------------------------ #
    @property
    def api_url(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"{self.url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Value (as ``yarl.URL``) for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def start(self) -> FakeDiscord:
        super().start()
        return self

    def __enter__(self) -> FakeDiscord:
        return self.start()

    # ------------------------------------------------------------------ #
    # aiohttp application
    # ------------------------------------------------------------------ #
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._api)
        app.on_shutdown.append(self._close_sessions)
        return app

    async def _close_sessions(self, _app: web.Application) -> None:
        for session in list(self._sessions):
            await session.ws.close(code=1001, message=b"server shutting down")

    # ------------------------------------------------------------------ #
    # Thread plumbing
    # ------------------------------------------------------------------ #
    def _on_server_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _run_dispatch(self, coro_fn: Callable[..., Awaitable[T]], *args: Any) -> None:
        """Run a dispatching coroutine on the server loop; no-op before ``start()``."""
        if self.loop is None:
            return
        if self._on_server_thread():
            self.loop.create_task(coro_fn(*args))  # type: ignore[arg-type]
        else:
            self.call(coro_fn, *args)

    def _next_id(self) -> str:
        with self._lock:
            candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            if candidate <= self._last_id:
                candidate = self._last_id + 1
            self._last_id = candidate
            return str(candidate)

    # ------------------------------------------------------------------ #
    # Test-side API: setting up the world
    # ------------------------------------------------------------------ #
    @property
    def bot_user(self) -> JSON:
        """The bot's user object."""
        return copy.deepcopy(self._bot_user)

    def add_user(self, user_id: str | None = None, name: str = "alice") -> JSON:
        """Create a (human) user and return its user object."""
        with self._lock:
            uid = str(user_id) if user_id is not None else self._next_id()
            user = {
                "id": uid,
                "username": name,
                "global_name": name.capitalize(),
                "discriminator": "0",
                "avatar": None,
                "bot": False,
                "system": False,
                "public_flags": 0,
            }
            self._users[uid] = user
            return copy.deepcopy(user)

    def add_guild(self, name: str, channel_name: str | None = "general", guild_id: str | None = None) -> JSON:
        """Create a guild the bot is in, with one text channel (unless ``channel_name`` is None).

        Returns the guild as in GUILD_CREATE (``channels``, ``members``, ``roles``...).
        Connected bots receive GUILD_CREATE.
        """
        with self._lock:
            gid = str(guild_id) if guild_id is not None else self._next_id()
            bot_role_id = self._next_id()
            self._guilds[gid] = {
                "id": gid,
                "name": name,
                "icon": None,
                "splash": None,
                "discovery_splash": None,
                "banner": None,
                "description": None,
                "owner_id": self._next_id(),
                "afk_channel_id": None,
                "afk_timeout": 300,
                "verification_level": 0,
                "default_message_notifications": 0,
                "explicit_content_filter": 0,
                "roles": [
                    self._role(gid, "@everyone", EVERYONE_PERMISSIONS, 0),
                    {
                        **self._role(bot_role_id, self.bot_name, BOT_ROLE_PERMISSIONS, 1),
                        "managed": True,
                        "tags": {"bot_id": self.bot_user_id},
                    },
                ],
                "emojis": [],
                "stickers": [],
                "features": [],
                "mfa_level": 0,
                "application_id": None,
                "system_channel_id": None,
                "system_channel_flags": 0,
                "rules_channel_id": None,
                "public_updates_channel_id": None,
                "vanity_url_code": None,
                "premium_tier": 0,
                "premium_subscription_count": 0,
                "preferred_locale": "en-US",
                "nsfw_level": 0,
                "premium_progress_bar_enabled": False,
                "joined_at": _iso(datetime.now(UTC)),
                "large": False,
                "unavailable": False,
                "_bot_role_id": bot_role_id,
            }
            self._members[gid] = {}
            self._add_member_locked(gid, self.bot_user_id, roles=[bot_role_id])
            if channel_name is not None:
                self._add_text_channel_locked(gid, channel_name)
        # A join omits "unavailable" (discord.py then fires guild_join, not guild_available).
        self._run_dispatch(self._dispatch_all, "GUILD_CREATE", lambda: self._guild_create_payload(gid, joined=True))
        return self.guild(gid)  # type: ignore[return-value]

    def add_text_channel(self, guild_id: str, name: str) -> JSON:
        """Create a text channel (type 0) in a guild and return it; bots get CHANNEL_CREATE."""
        with self._lock:
            payload = copy.deepcopy(self._add_text_channel_locked(str(guild_id), name))
        self._run_dispatch(self._dispatch_all, "CHANNEL_CREATE", lambda: payload)
        return copy.deepcopy(payload)

    def _add_text_channel_locked(self, guild_id: str, name: str) -> JSON:
        if guild_id not in self._guilds:
            raise KeyError(f"unknown guild {guild_id}")
        cid = self._next_id()
        position = sum(1 for c in self._channels.values() if c.get("guild_id") == guild_id and c["type"] == 0)
        channel = {
            "id": cid,
            "type": 0,
            "guild_id": guild_id,
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self._channels[cid] = channel
        self._channel_order[cid] = []
        return channel

    def add_member(self, guild_id: str, user_id: str) -> JSON:
        """Make a user a member of a guild (done automatically by :meth:`user_sends_in_channel`)."""
        with self._lock:
            return copy.deepcopy(self._add_member_locked(str(guild_id), str(user_id)))

    # ------------------------------------------------------------------ #
    # Test-side API: users acting
    # ------------------------------------------------------------------ #
    def user_sends_dm(
        self,
        user_id: str,
        content: str,
        attachments: Sequence[tuple[str, bytes, str]] = (),
        flags: int = 0,
    ) -> JSON:
        """A user DMs the bot: creates the DM channel if needed, stores and dispatches MESSAGE_CREATE.

        ``attachments`` are ``(filename, data, content_type)``; they are served at
        their ``url`` without auth.  ``flags`` are the message flags (``1 << 13``:
        a voice message).  Returns the message object.
        """
        with self._lock:
            user_id = str(user_id)
            self._require_user(user_id)
            channel = self._dm_channel_locked(user_id)
            msg = self._new_message(channel, self._users[user_id], content)
            msg["flags"] = flags
            msg["attachments"] = [self._store_attachment(channel["id"], fn, data, ct) for fn, data, ct in attachments]
            self._store_message(msg)
            result = copy.deepcopy(msg)
        self._run_dispatch(self._dispatch_message, "MESSAGE_CREATE", msg["id"])
        return result

    def user_sends_in_channel(
        self,
        channel_id: str,
        user_id: str,
        content: str,
        mention_bot: bool = False,
        attachments: Sequence[tuple[str, bytes, str]] = (),
    ) -> JSON:
        """A user posts in a guild channel or thread (with ``<@bot> `` prefixed when ``mention_bot``)."""
        with self._lock:
            user_id = str(user_id)
            self._require_user(user_id)
            channel = self._require_channel(str(channel_id))
            if not channel.get("guild_id"):
                raise ValueError("user_sends_in_channel needs a guild channel; use user_sends_dm for DMs")
            self._add_member_locked(channel["guild_id"], user_id)
            if mention_bot:
                content = f"<@{self.bot_user_id}> {content}"
            msg = self._new_message(channel, self._users[user_id], content)
            msg["attachments"] = [self._store_attachment(channel["id"], fn, data, ct) for fn, data, ct in attachments]
            self._store_message(msg)
            result = copy.deepcopy(msg)
        self._run_dispatch(self._dispatch_message, "MESSAGE_CREATE", msg["id"])
        return result

    def user_edits(self, message_id: str, new_content: str) -> JSON:
        """A user edits their message; dispatches MESSAGE_UPDATE with the full message."""
        with self._lock:
            msg = self._require_message(str(message_id))
            msg["content"] = new_content
            msg["mentions"] = self._mentions(new_content)
            msg["edited_timestamp"] = _iso(datetime.now(UTC))
            result = copy.deepcopy(msg)
        self._run_dispatch(self._dispatch_message, "MESSAGE_UPDATE", result["id"])
        return result

    def user_deletes(self, message_id: str) -> None:
        """A message is deleted by its author; dispatches MESSAGE_DELETE."""
        with self._lock:
            msg = self._require_message(str(message_id))
            self._remove_message(msg)
            payload = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if msg.get("guild_id"):
                payload["guild_id"] = msg["guild_id"]
        self._run_dispatch(self._dispatch_all, "MESSAGE_DELETE", lambda: payload)

    def invoke_command(
        self,
        user_id: str,
        name: str,
        options: dict[str, Any] | None = None,
        channel_id: str | None = None,
        *,
        require_registered: bool = True,
        locale: str = "en-US",
    ) -> JSON:
        """A user runs a slash command; dispatches INTERACTION_CREATE (type 2) and returns it.

        ``name`` may contain spaces for subcommands ("remind add").  Without
        ``channel_id`` the command runs in the user's DM with the bot.  Option
        types come from the registered command when known (else from the Python
        type).  Raises ``LookupError`` when the command was not registered for
        that context, like Discord would not show it (``require_registered=False``
        skips that check).
        """
        with self._lock:
            user_id = str(user_id)
            user = self._require_user(user_id)
            if channel_id is None:
                channel = self._dm_channel_locked(user_id)
            else:
                channel = self._require_channel(str(channel_id))
            guild_id = channel.get("guild_id")
            parts = name.split()
            command, command_guild = self._find_command(parts[0], guild_id, dm=guild_id is None)
            if command is None and require_registered:
                raise LookupError(
                    f"slash command /{parts[0]} is not registered for this "
                    f"{'guild' if guild_id else 'DM'} (did the bot sync its CommandTree?)"
                )
            resolved: JSON = {}
            data: JSON = {
                "id": command["id"] if command else self._next_id(),
                "name": parts[0],
                "type": 1,
                "options": self._build_options(command, parts[1:], options or {}, guild_id, resolved),
            }
            if resolved:
                data["resolved"] = resolved
            if command_guild:
                data["guild_id"] = command_guild
            interaction = self._open_interaction_locked(2, channel, user, data, locale=locale)
            result = copy.deepcopy(interaction)
        self._run_dispatch(self._dispatch_all, "INTERACTION_CREATE", lambda: interaction)
        return result

    def press_button(self, user_id: str, message_id: str, custom_id: str) -> JSON:
        """A user presses a button of a message; dispatches INTERACTION_CREATE (type 3) and returns it.

        Raises ``LookupError`` when the message shows no button with that ``custom_id``
        (Discord offers nothing to press), e.g. once a press took the buttons away.
        """
        with self._lock:
            user_id = str(user_id)
            user = self._require_user(user_id)
            msg = self._require_message(str(message_id))
            buttons = [c for row in msg.get("components") or [] for c in row.get("components") or []]
            if not any(c.get("custom_id") == custom_id for c in buttons if c.get("type") == 2):
                raise LookupError(f"message {message_id} shows no button {custom_id!r}")
            channel = self._channels[msg["channel_id"]]
            data = {"custom_id": custom_id, "component_type": 2}
            interaction = self._open_interaction_locked(3, channel, user, data, message=copy.deepcopy(msg))
            result = copy.deepcopy(interaction)
        self._run_dispatch(self._dispatch_all, "INTERACTION_CREATE", lambda: interaction)
        return result

    def _open_interaction_locked(
        self, kind: int, channel: JSON, user: JSON, data: JSON, *, locale: str = "en-US", message: JSON | None = None
    ) -> JSON:
        """A new interaction of ``kind`` (2 a slash command, 3 a button) by ``user`` in ``channel``, as Discord
        sends it (a member in a server, a user in a DM), recorded so its callbacks and follow-ups are checked."""
        iid = self._next_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        interaction: JSON = {
            "id": iid,
            "application_id": self.application_id,
            "type": kind,
            "token": token,
            "version": 1,
            "channel_id": channel["id"],
            "channel": self._interaction_channel(channel),
            "data": data,
            "locale": locale,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": self.limits.max_upload_bytes or 10 * 1024 * 1024,
        }
        if message is not None:
            interaction["message"] = message
        user_id = user["id"]
        guild_id = channel.get("guild_id")
        if guild_id:
            member = copy.deepcopy(self._add_member_locked(guild_id, user_id))
            member["permissions"] = str(EVERYONE_PERMISSIONS)
            interaction.update(
                guild_id=guild_id,
                member=member,
                guild={"id": guild_id, "locale": "en-US", "features": []},
                guild_locale="en-US",
                app_permissions=str(BOT_ROLE_PERMISSIONS),
                context=0,
            )
        else:
            interaction.update(user=copy.deepcopy(user), app_permissions=str(DM_APP_PERMISSIONS), context=1)
        self._interactions[iid] = {
            "id": iid,
            "token": token,
            "channel_id": channel["id"],
            "guild_id": guild_id,
            "user_id": user_id,
            "created": time.perf_counter(),
            "acked": False,
            "callback_type": None,
            "original_id": None,
            "loading": False,
            "followups": [],
            "payload": interaction,
        }
        self._interaction_by_token[token] = iid
        return interaction

    def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway websocket (a network blip); discord.py reconnects on its own."""
        self._run_dispatch(self._drop_connections, code)

    async def _drop_connections(self, code: int) -> None:
        for session in list(self._sessions):
            await session.ws.close(code=code, message=b"fake drop")

    # ------------------------------------------------------------------ #
    # Test-side API: queries
    # ------------------------------------------------------------------ #
    def channel_messages(self, channel_id: str) -> list[JSON]:
        """Current messages of a channel (bot's and users', ephemeral included), oldest first."""
        with self._lock:
            ids = self._channel_order.get(str(channel_id), [])
            return [copy.deepcopy(self._messages[mid]) for mid in ids]

    @property
    def downloads(self) -> list[str]:
        """Ids of the attachments fetched from the fake's CDN, in order."""
        with self._lock:
            return list(self._downloads)

    def close_dms(self, user_id: str) -> None:
        """The user stops accepting DMs from the bot: sends to their DM get 403, code 50007."""
        with self._lock:
            self._dms_closed.add(str(user_id))

    def dm_channel_id(self, user_id: str) -> str | None:
        """Id of the DM channel between the bot and a user, if it exists."""
        with self._lock:
            return self._dm_by_user.get(str(user_id))

    def message(self, message_id: str) -> JSON | None:
        """A message by id (None once deleted)."""
        with self._lock:
            msg = self._messages.get(str(message_id))
            return copy.deepcopy(msg) if msg is not None else None

    def channel(self, channel_id: str) -> JSON | None:
        """A channel (guild text, DM or thread) by id."""
        with self._lock:
            ch = self._channels.get(str(channel_id))
            return copy.deepcopy(ch) if ch is not None else None

    def guild(self, guild_id: str) -> JSON | None:
        """A guild as in GUILD_CREATE."""
        with self._lock:
            if str(guild_id) not in self._guilds:
                return None
            return self._guild_create_payload(str(guild_id))

    def interaction(self, interaction_id: str) -> JSON | None:
        """Server-side state of an interaction: acked, callback_type, original_id, followups, loading."""
        with self._lock:
            inter = self._interactions.get(str(interaction_id))
            if inter is None:
                return None
            return {k: copy.deepcopy(v) for k, v in inter.items() if k != "created"}

    def connected_sessions(self) -> int:
        """Number of open gateway sessions that have identified."""
        return sum(1 for s in list(self._sessions) if s.identified and s.open)

    @property
    def gateway_connections(self) -> list[GatewayConnection]:
        """Every gateway websocket accepted so far (open or closed), oldest first."""
        return [s.snapshot() for s in list(self._all_sessions)]

    @property
    def log(self) -> list[LogEntry]:
        """Every REST request, in arrival order."""
        with self._lock:
            return list(self._log)

    def drop_connection_after(self, route: str, times: int = 1) -> None:
        """The next ``times`` requests of ``route`` (e.g. ``messages.create``) take effect, then the connection drops."""
        with self._lock:
            self._drops[route] = self._drops.get(route, 0) + times

    @property
    def rate_limited(self) -> list[LogEntry]:
        """The requests that got a 429."""
        with self._lock:
            return list(self._rate_limited)

    @property
    def typing_events(self) -> list[TypingEvent]:
        """Typing indicators the bot triggered."""
        with self._lock:
            return list(self._typing)

    @property
    def interaction_responses(self) -> list[InteractionRecord]:
        """Interaction callbacks and webhook requests (follow-ups, edits), in order."""
        with self._lock:
            return list(self._interaction_records)

    @property
    def uploads(self) -> list[Upload]:
        """Files the bot uploaded."""
        with self._lock:
            return list(self._uploads)

    @property
    def registered_commands(self) -> dict[str, list[JSON]]:
        """Application commands: key "global" plus one key per guild id."""
        with self._lock:
            return copy.deepcopy(self._commands)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions inside the fake's handlers (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def clear_records(self) -> None:
        """Forget log, rate_limited, typing events, uploads and interaction records."""
        with self._lock:
            self._log.clear()
            self._rate_limited.clear()
            self._typing.clear()
            self._uploads.clear()
            self._interaction_records.clear()

    def wait_for(self, predicate: Callable[[FakeDiscord], T], timeout: float = 5.0) -> T:
        """Poll ``predicate(fake)`` from a sync test until truthy; return its value or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(0.01)

    async def await_for(self, predicate: Callable[[FakeDiscord], T], timeout: float = 5.0) -> T:
        """Like :meth:`wait_for` but yields to the caller's event loop while polling."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.01)

    def wait_connected(self, timeout: float = 5.0, count: int = 1) -> int:
        """Block until at least ``count`` sessions have identified (sync tests, bot in another thread/process)."""
        return self.wait_for(lambda f: f.connected_sessions() >= count and f.connected_sessions(), timeout)

    async def await_connected(self, timeout: float = 5.0, count: int = 1) -> int:
        """Async :meth:`wait_connected`, for a bot running in the test's own loop."""
        return await self.await_for(lambda f: f.connected_sessions() >= count and f.connected_sessions(), timeout)

    # ------------------------------------------------------------------ #
    # State helpers (call with self._lock held)
    # ------------------------------------------------------------------ #
    @staticmethod
    def _role(role_id: str, name: str, permissions: int, position: int) -> JSON:
        return {
            "id": role_id,
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _add_member_locked(self, guild_id: str, user_id: str, roles: list[str] | None = None) -> JSON:
        members = self._members[guild_id]
        if user_id not in members:
            members[user_id] = {
                "user": self._users[user_id],
                "nick": None,
                "avatar": None,
                "roles": roles or [],
                "joined_at": _iso(datetime.now(UTC)),
                "premium_since": None,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
            }
        return members[user_id]

    def _guild_create_payload(self, guild_id: str, joined: bool = False) -> JSON:
        with self._lock:
            guild = {k: v for k, v in self._guilds[guild_id].items() if not k.startswith("_")}
            if joined:
                del guild["unavailable"]
            own = [c for c in self._channels.values() if c.get("guild_id") == guild_id]
            channels = [c for c in own if c["type"] not in (11, 12)]
            threads = [c for c in own if c["type"] in (11, 12)]
            members = list(self._members[guild_id].values())
            guild.update(
                channels=channels,
                threads=threads,
                members=members,
                member_count=len(members),
                presences=[],
                voice_states=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
            return copy.deepcopy(guild)

    def _require_user(self, user_id: str) -> JSON:
        try:
            return self._users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id}; create it with fake.add_user()") from None

    def _require_channel(self, channel_id: str) -> JSON:
        try:
            return self._channels[channel_id]
        except KeyError:
            raise KeyError(f"unknown channel {channel_id}") from None

    def _require_message(self, message_id: str) -> JSON:
        try:
            return self._messages[message_id]
        except KeyError:
            raise KeyError(f"unknown message {message_id}") from None

    def _dm_channel_locked(self, user_id: str) -> JSON:
        cid = self._dm_by_user.get(user_id)
        if cid is None:
            cid = self._next_id()
            self._channels[cid] = {
                "id": cid,
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self._users[user_id]],
            }
            self._channel_order[cid] = []
            self._dm_by_user[user_id] = cid
        return self._channels[cid]

    def _mentions(self, content: str | None) -> list[JSON]:
        seen: list[JSON] = []
        for uid in _MENTION_RE.findall(content or ""):
            user = self._users.get(uid)
            if user is not None and all(u["id"] != uid for u in seen):
                seen.append(copy.deepcopy(user))
        return seen

    def _new_message(self, channel: JSON, author: JSON, content: str | None, mtype: int = 0) -> JSON:
        mid = self._next_id()
        msg: JSON = {
            "id": mid,
            "channel_id": channel["id"],
            "type": mtype,
            "content": content or "",
            "author": copy.deepcopy(author),
            "timestamp": _iso(_snowflake_time(mid)),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": self._mentions(content),
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
        }
        if channel.get("guild_id"):
            msg["guild_id"] = channel["guild_id"]
        return msg

    def _store_message(self, msg: JSON) -> None:
        self._messages[msg["id"]] = msg
        self._channel_order.setdefault(msg["channel_id"], []).append(msg["id"])
        channel = self._channels.get(msg["channel_id"])
        if channel is not None and not msg["flags"] & MESSAGE_FLAG_EPHEMERAL:
            channel["last_message_id"] = msg["id"]
            if channel["type"] in (11, 12):
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1

    def _remove_message(self, msg: JSON) -> None:
        self._messages.pop(msg["id"], None)
        order = self._channel_order.get(msg["channel_id"], [])
        if msg["id"] in order:
            order.remove(msg["id"])

    def _store_attachment(
        self, channel_id: str, filename: str, data: bytes, content_type: str | None, description: str | None = None
    ) -> JSON:
        aid = self._next_id()
        if not content_type or content_type == "application/octet-stream":
            content_type = mimetypes.guess_type(filename)[0] or content_type
        self._files[aid] = (data, content_type, filename)
        url = f"{self.url}/attachments/{channel_id}/{aid}/{quote(filename)}"
        att: JSON = {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        if description:
            att["description"] = description
        return att

    # ------------------------------------------------------------------ #
    # Gateway
    # ------------------------------------------------------------------ #
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"Decode error")
            return ws
        session = _GatewaySession(
            ws, compress=request.query.get("compress") == "zlib-stream", query=dict(request.query)
        )
        self._sessions.append(session)
        self._all_sessions.append(session)
        try:
            async with session.lock:
                await session.send_raw(
                    {
                        "op": 10,
                        "s": None,
                        "t": None,
                        "d": {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-discord"]},
                    }
                )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Decode error")
                    break
                await self._gateway_op(session, payload)
        except Exception:  # noqa: BLE001 - a broken client connection must not kill the server
            with self._lock:
                self._errors.append(traceback.format_exc())
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
        return ws

    async def _gateway_op(self, session: _GatewaySession, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if isinstance(op, int):
            session.ops[op] = session.ops.get(op, 0) + 1
        if op == 1:
            async with session.lock:
                await session.send_raw({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:
            if session.identified:
                await session.ws.close(code=4005, message=b"Already authenticated.")
                return
            token = str((data or {}).get("token", ""))
            if token.removeprefix("Bot ") != self.bot_token:
                await session.ws.close(code=4004, message=b"Authentication failed.")
                return
            await self._identify(session, data)
        elif op == 6:
            async with session.lock:
                await session.send_raw({"op": 9, "s": None, "t": None, "d": False})
        elif not session.identified:
            await session.ws.close(code=4003, message=b"Not authenticated.")
        elif op == 8:
            await self._member_chunk(session, data or {})
        elif op in (3, 4):
            pass  # presence and voice state updates: nothing to do
        else:
            await session.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, session: _GatewaySession, data: JSON) -> None:
        session.intents = int(data.get("intents") or 0)
        session.shard = data.get("shard")
        with self._lock:
            guild_ids = list(self._guilds)
        ready: JSON = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": gid, "unavailable": True} for gid in guild_ids],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        # Hold the lock so that a concurrent broadcast lands after READY and the GUILD_CREATEs.
        async with session.lock:
            session.identified = True
            session.seq += 1
            await session.send_raw({"op": 0, "t": "READY", "s": session.seq, "d": ready})
            if session.intents & INTENT_GUILDS:
                for gid in guild_ids:
                    session.seq += 1
                    await session.send_raw(
                        {"op": 0, "t": "GUILD_CREATE", "s": session.seq, "d": self._guild_create_payload(gid)}
                    )

    async def _member_chunk(self, session: _GatewaySession, data: JSON) -> None:
        gid = str(data.get("guild_id"))
        with self._lock:
            members = copy.deepcopy(list(self._members.get(gid, {}).values()))
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {str(u) for u in user_ids}
            members = [m for m in members if m["user"]["id"] in wanted]
        chunk: JSON = {"guild_id": gid, "members": members, "chunk_index": 0, "chunk_count": 1, "not_found": []}
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    @staticmethod
    def _event_allowed(event: str, data: JSON, intents: int) -> bool:
        if event in ("GUILD_CREATE", "CHANNEL_CREATE", "THREAD_CREATE"):
            return bool(intents & INTENT_GUILDS)
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
            return bool(intents & (INTENT_GUILD_MESSAGES if data.get("guild_id") else INTENT_DIRECT_MESSAGES))
        if event == "MESSAGE_REACTION_ADD":
            flag = INTENT_GUILD_MESSAGE_REACTIONS if data.get("guild_id") else INTENT_DIRECT_MESSAGE_REACTIONS
            return bool(intents & flag)
        return True

    def _for_session(self, event: str, data: JSON, intents: int) -> JSON:
        # Without the privileged message-content intent Discord blanks guild messages
        # that neither come from the bot nor mention it.
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and data.get("guild_id")
            and not intents & INTENT_MESSAGE_CONTENT
            and data["author"]["id"] != self.bot_user_id
            and all(u["id"] != self.bot_user_id for u in data.get("mentions", []))
        ):
            return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        return data

    async def _dispatch_all(self, event: str, data_fn: Callable[[], JSON]) -> None:
        data = data_fn()
        for session in list(self._sessions):
            if not (session.identified and session.open and self._event_allowed(event, data, session.intents)):
                continue
            try:
                await session.dispatch(event, self._for_session(event, data, session.intents))
            except Exception:  # noqa: BLE001 - a dying socket only loses its own events
                continue

    async def _dispatch_message(self, event: str, message_id: str) -> None:
        """Dispatch MESSAGE_CREATE/UPDATE for a stored message, with ``member`` for guild messages."""

        def build() -> JSON:
            with self._lock:
                msg = copy.deepcopy(self._messages.get(message_id))
                if msg is None:
                    return {}
                gid = msg.get("guild_id")
                if gid and msg["author"]["id"] in self._members.get(gid, {}):
                    member = copy.deepcopy(self._members[gid][msg["author"]["id"]])
                    member.pop("user", None)
                    msg["member"] = member
                return msg

        data = build()
        if data:
            await self._dispatch_all(event, lambda: data)

    # ------------------------------------------------------------------ #
    # REST plumbing
    # ------------------------------------------------------------------ #
    def _build_routes(self) -> list[_Route]:
        cid = r"(?P<channel_id>\d+)"
        mid = r"(?P<message_id>\d+)"
        app = r"(?P<application_id>\d+)"
        tok = r"(?P<token>[^/]+)"

        def r(
            method: str, path: str, handler: Callable[[_Ctx], Awaitable[web.StreamResponse]], name: str, **kw: Any
        ) -> _Route:
            return _Route(method, re.compile(f"^{path}$"), handler, name, **kw)

        return [
            r("GET", "/gateway", self._h_gateway, "gateway", auth=False),
            r("GET", "/gateway/bot", self._h_gateway_bot, "gateway_bot"),
            r("GET", "/users/@me", self._h_me, "users.me"),
            r("GET", r"/users/(?P<user_id>\d+)", self._h_user, "users.get"),
            r("POST", "/users/@me/channels", self._h_open_dm, "dm.open"),
            r("GET", "/oauth2/applications/@me", self._h_application, "application"),
            r("GET", "/applications/@me", self._h_application, "application"),
            r("GET", f"/channels/{cid}", self._h_get_channel, "channels.get"),
            r("POST", f"/channels/{cid}/typing", self._h_typing, "typing"),
            r("GET", f"/channels/{cid}/messages", self._h_history, "messages.list"),
            r("POST", f"/channels/{cid}/messages", self._h_send, "messages.create", bucket="send"),
            r("GET", f"/channels/{cid}/messages/{mid}", self._h_get_message, "messages.get"),
            r("PATCH", f"/channels/{cid}/messages/{mid}", self._h_edit, "messages.edit", bucket="edit"),
            r("DELETE", f"/channels/{cid}/messages/{mid}", self._h_delete, "messages.delete"),
            r(
                "PUT",
                f"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/@me",
                self._h_react,
                "reactions.add",
                bucket="reaction",
            ),
            r(
                "DELETE",
                f"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/@me",
                self._h_unreact,
                "reactions.delete",
                bucket="reaction",
            ),
            r("POST", f"/channels/{cid}/messages/{mid}/threads", self._h_thread_from_message, "threads.from_message"),
            r("POST", f"/channels/{cid}/threads", self._h_thread, "threads.create"),
            r("PUT", f"/applications/{app}/commands", self._h_put_commands, "commands.bulk"),
            r("GET", f"/applications/{app}/commands", self._h_get_commands, "commands.list"),
            r(
                "PUT",
                rf"/applications/{app}/guilds/(?P<guild_id>\d+)/commands",
                self._h_put_commands,
                "commands.guild_bulk",
            ),
            r(
                "GET",
                rf"/applications/{app}/guilds/(?P<guild_id>\d+)/commands",
                self._h_get_commands,
                "commands.guild_list",
            ),
            r(
                "POST",
                rf"/interactions/(?P<interaction_id>\d+)/{tok}/callback",
                self._h_callback,
                "interactions.callback",
                auth=False,
                global_limit=False,
                interaction_kind="callback",
            ),
            r(
                "POST",
                f"/webhooks/{app}/{tok}",
                self._h_followup,
                "webhooks.execute",
                bucket="webhook_send",
                auth=False,
                global_limit=False,
                interaction_kind="followup",
            ),
            r(
                "PATCH",
                f"/webhooks/{app}/{tok}/messages/(?P<message_id>@original|\\d+)",
                self._h_webhook_edit,
                "webhooks.edit_message",
                bucket="webhook_edit",
                auth=False,
                global_limit=False,
                interaction_kind="edit_message",
            ),
            r(
                "GET",
                f"/webhooks/{app}/{tok}/messages/(?P<message_id>@original|\\d+)",
                self._h_webhook_get,
                "webhooks.get_message",
                auth=False,
                global_limit=False,
                interaction_kind="get_message",
            ),
            r(
                "DELETE",
                f"/webhooks/{app}/{tok}/messages/(?P<message_id>@original|\\d+)",
                self._h_webhook_delete,
                "webhooks.delete_message",
                auth=False,
                global_limit=False,
                interaction_kind="delete_message",
            ),
        ]

    def _bucket_config(self, bucket: str) -> tuple[int, float] | None:
        cfg = {
            "send": self.limits.channel_send,
            "edit": self.limits.channel_edit,
            "reaction": self.limits.reaction,
            "webhook_send": self.limits.webhook,
            "webhook_edit": self.limits.webhook,
        }[bucket]
        if not cfg or not cfg[0]:
            return None
        return cfg

    @staticmethod
    def bucket_hash(bucket: str) -> str:
        """The ``X-RateLimit-Bucket`` value the fake sends for a bucket name."""
        return hashlib.md5(f"fake-discord:{bucket}".encode()).hexdigest()

    def _take_bucket(self, bucket: str, major: str, now: float) -> tuple[bool, dict[str, str], float]:
        """Consume one request from a bucket; returns (allowed, headers, reset_after)."""
        cfg = self._bucket_config(bucket)
        if cfg is None:
            return True, {}, 0.0
        limit, window = cfg
        state = self._buckets.get((bucket, major))
        if state is None or now >= state[0]:
            state = [now + window, 0.0]
            self._buckets[(bucket, major)] = state
        reset_after = _ceil_ms(state[0] - now)
        allowed = state[1] < limit
        if allowed:
            state[1] += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(int(limit - state[1])),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(bucket),
        }
        return allowed, headers, reset_after

    def _take_global(self, now: float) -> float:
        """Count a request against the global limit; returns 0 or the seconds to wait."""
        limit = self.limits.global_per_second
        if not limit:
            return 0.0
        times = self._global_times
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= limit:
            return max(0.001, times[0] + 1.0 - now)
        times.append(now)
        return 0.0

    @staticmethod
    def _too_many(retry_after: float, is_global: bool, headers: dict[str, str]) -> web.Response:
        hdrs = dict(headers)
        hdrs.update(
            {
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": "global" if is_global else "user",
                # Without Via discord.py takes a 429 for a Cloudflare ban and raises.
                "Via": "1.1 google",
            }
        )
        if is_global:
            hdrs["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": _ceil_ms(retry_after), "global": is_global}
        if not is_global:
            body["code"] = 0
        return _json_response(body, 429, hdrs)

    async def _parse_body(self, request: web.Request, ctx: _Ctx) -> None:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = part.name or ""
                if getattr(part, "filename", None):
                    data = await part.read()  # type: ignore[union-attr]
                    content_type = part.headers.get("Content-Type")
                    ctx.files.append((name, part.filename, bytes(data), content_type))  # type: ignore[union-attr]
                elif name == "payload_json":
                    ctx.json = json.loads(await part.text())  # type: ignore[union-attr]
            return
        raw = await request.read()
        if raw:
            ctx.json = json.loads(raw)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        t = time.perf_counter()
        path = "/" + request.match_info["tail"]
        method = request.method
        route: _Route | None = None
        match: re.Match[str] | None = None
        for candidate in self._routes:
            if candidate.method == method:
                match = candidate.pattern.match(path)
                if match:
                    route = candidate
                    break
        ctx = _Ctx(request=request, params=match.groupdict() if match else {}, t=t)
        ctx.channel_id = ctx.params.get("channel_id")
        if ctx.params.get("message_id", "@").isdigit():
            ctx.message_id = ctx.params["message_id"]
        headers: dict[str, str] = {}
        scope: str | None = None
        try:
            if route is None:
                raise _ApiError(404, "404: Not Found", 0)
            try:
                await self._parse_body(request, ctx)
            except ValueError:
                raise _ApiError(400, "The request body contains invalid JSON.", 50109) from None
            ctx.content = self._request_content(ctx.json)
            if route.auth and request.headers.get("Authorization") != f"Bot {self.bot_token}":
                raise _ApiError(401, "401: Unauthorized", 0)
            with self._lock:
                wait = self._take_global(t) if route.global_limit else 0.0
                if wait:
                    scope = "global"
                    response: web.StreamResponse = self._too_many(wait, True, {})
                else:
                    allowed, headers, reset_after = (
                        self._take_bucket(route.bucket, ctx.channel_id or ctx.params.get("token", ""), t)
                        if route.bucket
                        else (True, {}, 0.0)
                    )
                    if not allowed:
                        scope = "user"
                        response = self._too_many(reset_after, False, headers)
            if scope is None:
                response = await route.handler(ctx)
                response.headers.update(headers)
                with self._lock:
                    drop = response.status < 300 and route.name in self._drops and self._drops[route.name] > 0
                    if drop:
                        self._drops[route.name] -= 1
                if drop and request.transport is not None:
                    # The request took effect, but the answer never arrives: the client sees the connection drop.
                    request.transport.close()
        except _ApiError as exc:
            response = _json_response(exc.body, exc.status, headers)
        except Exception:  # noqa: BLE001 - reported through fake.errors and a 500
            with self._lock:
                self._errors.append(traceback.format_exc())
            response = _json_response({"message": "500: Internal Server Error", "code": 0}, 500)
        entry = LogEntry(
            t=t,
            method=method,
            path=path,
            bucket=route.bucket if route else None,
            channel_id=ctx.channel_id,
            message_id=ctx.message_id,
            status=response.status,
            content=ctx.content,
            route=route.name if route else "",
            scope=scope,
            query=request.query_string,
            allowed_mentions=ctx.json.get("allowed_mentions") if isinstance(ctx.json, dict) else None,
            flags=ctx.json.get("flags") if isinstance(ctx.json, dict) else None,
        )
        with self._lock:
            self._log.append(entry)
            if response.status == 429:
                self._rate_limited.append(entry)
            if route is not None and route.interaction_kind:
                self._interaction_records.append(
                    InteractionRecord(
                        t=t,
                        kind=route.interaction_kind,
                        interaction_id=ctx.interaction_id or ctx.params.get("interaction_id"),
                        token=ctx.params.get("token", ""),
                        method=method,
                        path=path,
                        payload=copy.deepcopy(ctx.json),
                        files=tuple(ctx.uploads),
                        status=response.status,
                        message_id=ctx.message_id,
                        callback_type=ctx.callback_type,
                    )
                )
        return response

    @staticmethod
    def _request_content(body: Any) -> str | None:
        if not isinstance(body, dict):
            return None
        if isinstance(body.get("data"), dict) and "content" in body["data"]:
            return body["data"]["content"]
        content = body.get("content")
        return content if isinstance(content, str) else None

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._downloads.append(request.match_info["attachment_id"])
            entry = self._files.get(request.match_info["attachment_id"])
        if entry is None:
            return web.Response(status=404, text="Not Found")
        data, content_type, _ = entry
        return web.Response(body=data, headers={"Content-Type": content_type or "application/octet-stream"})

    # ------------------------------------------------------------------ #
    # Validation
    # ------------------------------------------------------------------ #
    def _validate_message(
        self,
        payload: JSON,
        file_count: int,
        files: list[tuple[str, str, bytes, str | None]],
        *,
        check_empty: bool = True,
    ) -> None:
        errors: JSON = {}
        content = payload.get("content")
        max_content = self.limits.max_content
        if isinstance(content, str) and max_content and len(content) > max_content:
            errors["content"] = _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {max_content} or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            errors["embeds"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds[:10]):
            for key, cap in (("title", 256), ("description", 4096)):
                value = embed.get(key) or ""
                total += len(value)
                if len(value) > cap:
                    errors.setdefault("embeds", {}).setdefault(str(i), {})[key] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", f"Must be {cap} or fewer in length."
                    )
            if len(embed.get("fields") or []) > 25:
                errors.setdefault("embeds", {}).setdefault(str(i), {})["fields"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
        if total > 6000 and "embeds" not in errors:
            errors["embeds"] = _field_error("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        if file_count > 10:
            errors["files"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        components = _component_errors(payload.get("components"))
        if components:
            errors["components"] = components
        if errors:
            raise _form_error(errors)
        max_bytes = self.limits.max_upload_bytes
        if max_bytes and any(len(data) > max_bytes for _, _, data, _ in files):
            raise _ApiError(413, "Request entity too large", 40005)
        if check_empty and not (
            content
            or file_count
            or embeds
            or payload.get("sticker_ids")
            or payload.get("poll")
            or payload.get("components")
        ):
            raise _ApiError(400, "Cannot send an empty message", 50006)

    def _attachments_from_request(self, ctx: _Ctx, channel_id: str, payload: JSON) -> list[JSON]:
        """New attachments from ``files[n]`` parts, with descriptions from ``payload.attachments``."""
        described = {str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, dict)}
        result = []
        for index, (name, filename, data, content_type) in enumerate(ctx.files):
            key = name[6:-1] if name.startswith("files[") and name.endswith("]") else str(index)
            meta = described.get(key, {})
            att = self._store_attachment(
                channel_id, meta.get("filename") or filename, data, content_type, meta.get("description")
            )
            result.append(att)
        return result

    def _record_uploads(self, ctx: _Ctx, msg: JSON, attachments: list[JSON]) -> None:
        for att in attachments:
            data, content_type, filename = self._files[att["id"]]
            upload = Upload(filename, data, content_type, msg["channel_id"], msg["id"], att["id"], ctx.t)
            ctx.uploads.append(upload)
            self._uploads.append(upload)

    def _apply_edit(self, ctx: _Ctx, msg: JSON, payload: JSON) -> list[JSON]:
        """Apply a message edit payload (content/embeds/attachments/flags); returns new attachments."""
        new_attachments = self._attachments_from_request(ctx, msg["channel_id"], payload)
        if "attachments" in payload and payload["attachments"] is not None:
            keep = {str(a.get("id")) for a in payload["attachments"] if isinstance(a, dict)}
            kept = [a for a in msg["attachments"] if a["id"] in keep]
        else:
            kept = msg["attachments"]
        candidate = {
            "content": payload["content"] if "content" in payload else msg["content"],
            "embeds": payload["embeds"] if payload.get("embeds") is not None else msg["embeds"],
            "components": payload["components"] if payload.get("components") is not None else msg["components"],
        }
        self._validate_message(candidate, len(kept) + len(new_attachments), ctx.files)
        msg["content"] = candidate["content"] or ""
        msg["mentions"] = self._mentions(msg["content"])
        msg["embeds"] = candidate["embeds"] or []
        msg["components"] = candidate["components"] or []
        msg["attachments"] = kept + new_attachments
        if "flags" in payload and payload["flags"] is not None:
            msg["flags"] = (msg["flags"] & ~(1 << 2)) | (int(payload["flags"]) & (1 << 2))
        return new_attachments

    # ------------------------------------------------------------------ #
    # REST handlers: identity and gateway
    # ------------------------------------------------------------------ #
    async def _h_gateway(self, ctx: _Ctx) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _h_gateway_bot(self, ctx: _Ctx) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _h_me(self, ctx: _Ctx) -> web.Response:
        return _json_response(
            {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"}
        )

    async def _h_user(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            user = self._users.get(ctx.params["user_id"])
            if user is None:
                raise _ApiError(404, "Unknown User", 10013)
            return _json_response(copy.deepcopy(user))

    async def _h_application(self, ctx: _Ctx) -> web.Response:
        owner = {
            "id": "1",
            "username": "owner",
            "global_name": "Owner",
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }
        return _json_response(
            {
                "id": self.application_id,
                "name": self.bot_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner,
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "bot": self.bot_user,
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "tags": [],
            }
        )

    async def _h_open_dm(self, ctx: _Ctx) -> web.Response:
        body = ctx.json or {}
        uid = str(body.get("recipient_id", ""))
        with self._lock:
            if uid not in self._users or uid == self.bot_user_id:
                raise _ApiError(404, "Unknown User", 10013)
            channel = copy.deepcopy(self._dm_channel_locked(uid))
        ctx.channel_id = channel["id"]
        return _json_response(channel)

    # ------------------------------------------------------------------ #
    # REST handlers: channels and messages
    # ------------------------------------------------------------------ #
    def _channel_or_404(self, channel_id: str) -> JSON:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise _ApiError(404, "Unknown Channel", 10003)
        return channel

    def _message_or_404(self, channel_id: str, message_id: str) -> JSON:
        msg = self._messages.get(message_id)
        if msg is None or msg["channel_id"] != channel_id:
            raise _ApiError(404, "Unknown Message", 10008)
        return msg

    async def _h_get_channel(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            return _json_response(copy.deepcopy(self._channel_or_404(ctx.params["channel_id"])))

    async def _h_typing(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            self._channel_or_404(ctx.params["channel_id"])
            self._typing.append(TypingEvent(ctx.t, ctx.params["channel_id"]))
        return web.Response(status=204)

    async def _h_history(self, ctx: _Ctx) -> web.Response:
        query = ctx.request.query
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise _form_error({"limit": _field_error("NUMBER_TYPE_COERCE", "Value is not int.")}) from None
        if not 1 <= limit <= 100:
            raise _form_error({"limit": _field_error("NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")})
        with self._lock:
            self._channel_or_404(ctx.params["channel_id"])
            msgs = [
                self._messages[m]
                for m in self._channel_order.get(ctx.params["channel_id"], [])
                if not self._messages[m]["flags"] & MESSAGE_FLAG_EPHEMERAL
            ]
            if "before" in query:
                msgs = [m for m in msgs if int(m["id"]) < int(query["before"])][-limit:]
            elif "after" in query:
                msgs = [m for m in msgs if int(m["id"]) > int(query["after"])][:limit]
            elif "around" in query:
                pivot = int(query["around"])
                older = [m for m in msgs if int(m["id"]) <= pivot][-(limit // 2 + limit % 2) :]
                newer = [m for m in msgs if int(m["id"]) > pivot][: limit // 2]
                msgs = older + newer
            else:
                msgs = msgs[-limit:]
            return _json_response(copy.deepcopy(list(reversed(msgs))))

    async def _h_get_message(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            msg = self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"])
            if msg["flags"] & MESSAGE_FLAG_EPHEMERAL:
                raise _ApiError(404, "Unknown Message", 10008)
            return _json_response(copy.deepcopy(msg))

    async def _h_send(self, ctx: _Ctx) -> web.Response:
        payload = ctx.json if isinstance(ctx.json, dict) else {}
        with self._lock:
            channel = self._channel_or_404(ctx.params["channel_id"])
            if channel["type"] == 1 and any(u["id"] in self._dms_closed for u in channel.get("recipients", [])):
                raise _ApiError(403, "Cannot send messages to this user", 50007)
            self._validate_message(payload, len(ctx.files), ctx.files)
            nonce_key = (channel["id"], str(payload.get("nonce")))
            if payload.get("enforce_nonce") and payload.get("nonce") is not None:
                seen = self._nonces.get(nonce_key)
                if seen is not None and time.monotonic() - seen[1] < NONCE_MEMORY and seen[0] in self._messages:
                    # Discord: the same nonce within a few minutes returns the first message, creates nothing.
                    ctx.message_id = seen[0]
                    return _json_response(copy.deepcopy(self._messages[seen[0]]))
            reference = payload.get("message_reference")
            referenced: JSON | None = None
            if reference:
                ref_id = str(reference.get("message_id"))
                referenced = self._messages.get(ref_id)
                if referenced is None and reference.get("fail_if_not_exists", True):
                    raise _form_error(
                        {"message_reference": _field_error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")}
                    )
            msg = self._new_message(channel, self._bot_user, payload.get("content"), mtype=19 if referenced else 0)
            msg["embeds"] = payload.get("embeds") or []
            msg["components"] = payload.get("components") or []
            msg["tts"] = bool(payload.get("tts"))
            msg["flags"] = int(payload.get("flags") or 0) & _SETTABLE_MESSAGE_FLAGS & ~MESSAGE_FLAG_EPHEMERAL
            if payload.get("nonce") is not None:
                msg["nonce"] = payload["nonce"]
                if payload.get("enforce_nonce"):
                    self._nonces[nonce_key] = (msg["id"], time.monotonic())
            if referenced is not None:
                msg["message_reference"] = {
                    "type": 0,
                    "message_id": referenced["id"],
                    "channel_id": referenced["channel_id"],
                    **({"guild_id": referenced["guild_id"]} if referenced.get("guild_id") else {}),
                }
                msg["referenced_message"] = copy.deepcopy(referenced)
            attachments = self._attachments_from_request(ctx, channel["id"], payload)
            msg["attachments"] = attachments
            self._store_message(msg)
            self._record_uploads(ctx, msg, attachments)
            ctx.message_id = msg["id"]
            result = copy.deepcopy(msg)
        await self._dispatch_message("MESSAGE_CREATE", msg["id"])
        return _json_response(result)

    async def _h_edit(self, ctx: _Ctx) -> web.Response:
        payload = ctx.json if isinstance(ctx.json, dict) else {}
        with self._lock:
            msg = self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"])
            if msg["author"]["id"] != self.bot_user_id and set(payload) - {"flags"}:
                raise _ApiError(403, "Cannot edit a message authored by another user", 50005)
            new_attachments = self._apply_edit(ctx, msg, payload)
            msg["edited_timestamp"] = _iso(datetime.now(UTC))
            self._record_uploads(ctx, msg, new_attachments)
            result = copy.deepcopy(msg)
        await self._dispatch_message("MESSAGE_UPDATE", result["id"])
        return _json_response(result)

    async def _h_delete(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            channel = self._channel_or_404(ctx.params["channel_id"])
            msg = self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"])
            if msg["author"]["id"] != self.bot_user_id and not channel.get("guild_id"):
                raise _ApiError(403, "Cannot execute action on a DM channel", 50003)
            self._remove_message(msg)
            payload = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if msg.get("guild_id"):
                payload["guild_id"] = msg["guild_id"]
        await self._dispatch_all("MESSAGE_DELETE", lambda: payload)
        return web.Response(status=204)

    @staticmethod
    def _parse_emoji(raw: str) -> JSON:
        if ":" in raw:
            name, _, emoji_id = raw.partition(":")
            return {"id": emoji_id, "name": name}
        return {"id": None, "name": raw}

    async def _h_react(self, ctx: _Ctx) -> web.Response:
        emoji = self._parse_emoji(ctx.params["emoji"])
        with self._lock:
            msg = self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"])
            reactions = msg.setdefault("reactions", [])
            existing = next((r for r in reactions if r["emoji"] == emoji), None)
            if existing is None:
                reactions.append(
                    {
                        "emoji": emoji,
                        "count": 1,
                        "count_details": {"burst": 0, "normal": 1},
                        "me": True,
                        "me_burst": False,
                        "burst_colors": [],
                    }
                )
            elif not existing["me"]:
                existing["me"] = True
                existing["count"] += 1
                existing["count_details"]["normal"] += 1
            else:
                return web.Response(status=204)
            event: JSON = {
                "user_id": self.bot_user_id,
                "channel_id": msg["channel_id"],
                "message_id": msg["id"],
                "emoji": emoji,
                "burst": False,
                "type": 0,
            }
            if msg.get("guild_id"):
                event["guild_id"] = msg["guild_id"]
        await self._dispatch_all("MESSAGE_REACTION_ADD", lambda: event)
        return web.Response(status=204)

    async def _h_unreact(self, ctx: _Ctx) -> web.Response:
        emoji = self._parse_emoji(ctx.params["emoji"])
        with self._lock:
            msg = self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"])
            reactions = msg.get("reactions", [])
            for reaction in list(reactions):
                if reaction["emoji"] == emoji and reaction["me"]:
                    reaction["me"] = False
                    reaction["count"] -= 1
                    reaction["count_details"]["normal"] -= 1
                    if reaction["count"] <= 0:
                        reactions.remove(reaction)
        return web.Response(status=204)

    # ------------------------------------------------------------------ #
    # REST handlers: threads
    # ------------------------------------------------------------------ #
    def _new_thread(self, parent: JSON, thread_id: str, name: str, thread_type: int, archive: int) -> JSON:
        now = _iso(datetime.now(UTC))
        thread = {
            "id": thread_id,
            "type": thread_type,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": self.bot_user_id,
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": archive,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
                **({"invitable": True} if thread_type == 12 else {}),
            },
        }
        self._channels[thread_id] = thread
        self._channel_order[thread_id] = []
        return thread

    def _thread_params(self, body: JSON) -> tuple[str, int]:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise _form_error({"name": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")})
        archive = int(body.get("auto_archive_duration") or 4320)
        if archive not in (60, 1440, 4320, 10080):
            raise _form_error(
                {
                    "auto_archive_duration": _field_error(
                        "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."
                    )
                }
            )
        return name, archive

    async def _h_thread_from_message(self, ctx: _Ctx) -> web.Response:
        body = ctx.json if isinstance(ctx.json, dict) else {}
        with self._lock:
            parent = self._channel_or_404(ctx.params["channel_id"])
            msg = self._message_or_404(parent["id"], ctx.params["message_id"])
            if parent["type"] not in (0, 5):
                raise _ApiError(400, "Cannot execute action on this channel type", 50024)
            if msg["id"] in self._channels:
                raise _ApiError(400, "A thread has already been created for this message", 160004)
            name, archive = self._thread_params(body)
            thread = self._new_thread(parent, msg["id"], name, 11, archive)
            msg["thread"] = copy.deepcopy(thread)
            ctx.channel_id = parent["id"]
            result = copy.deepcopy(thread)
        await self._dispatch_all("THREAD_CREATE", lambda: {**result, "newly_created": True})
        return _json_response(result, 201)

    async def _h_thread(self, ctx: _Ctx) -> web.Response:
        body = ctx.json if isinstance(ctx.json, dict) else {}
        with self._lock:
            parent = self._channel_or_404(ctx.params["channel_id"])
            if parent["type"] not in (0, 5):
                raise _ApiError(400, "Cannot execute action on this channel type", 50024)
            name, archive = self._thread_params(body)
            thread_type = int(body.get("type") or 12)
            if thread_type not in (10, 11, 12):
                raise _form_error({"type": _field_error("BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")})
            thread = self._new_thread(parent, self._next_id(), name, thread_type, archive)
            result = copy.deepcopy(thread)
        await self._dispatch_all("THREAD_CREATE", lambda: {**result, "newly_created": True})
        return _json_response(result, 201)

    # ------------------------------------------------------------------ #
    # REST handlers: application commands
    # ------------------------------------------------------------------ #
    def _validate_commands(self, commands: Any) -> None:
        if not isinstance(commands, list):
            raise _form_error(
                {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Only iterables may be used in a ListType"}]}
            )
        errors: JSON = {}
        seen: set[tuple[str, int]] = set()
        for i, cmd in enumerate(commands):
            err: JSON = {}
            ctype = int(cmd.get("type") or 1)
            name = cmd.get("name") or ""
            if ctype == 1:
                if not _COMMAND_NAME_RE.match(name) or name != name.lower():
                    err["name"] = _field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
                if not 1 <= len(cmd.get("description") or "") <= 100:
                    err["description"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
                if len(cmd.get("options") or []) > 25:
                    err["options"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            elif not 1 <= len(name) <= 32:
                err["name"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
            if (name, ctype) in seen:
                err["name"] = _field_error(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                )
            seen.add((name, ctype))
            if err:
                errors[str(i)] = err
        if len(commands) > 100:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer in length."}]
        if errors:
            raise _form_error(errors)

    async def _h_put_commands(self, ctx: _Ctx) -> web.Response:
        if ctx.params["application_id"] != self.application_id:
            raise _ApiError(403, "Missing Access", 50001)
        guild_id = ctx.params.get("guild_id")
        self._validate_commands(ctx.json)
        with self._lock:
            if guild_id and guild_id not in self._guilds:
                raise _ApiError(403, "Missing Access", 50001)
            key = guild_id or "global"
            previous = {(c["name"], c["type"]): c["id"] for c in self._commands.get(key, [])}
            stored = []
            for cmd in ctx.json:
                ctype = int(cmd.get("type") or 1)
                entry = {
                    "id": previous.get((cmd["name"], ctype)) or self._next_id(),
                    "application_id": self.application_id,
                    "version": self._next_id(),
                    "type": ctype,
                    "name": cmd["name"],
                    "name_localizations": cmd.get("name_localizations"),
                    "description": cmd.get("description", ""),
                    "description_localizations": cmd.get("description_localizations"),
                    "options": cmd.get("options") or [],
                    "default_member_permissions": cmd.get("default_member_permissions"),
                    "nsfw": bool(cmd.get("nsfw", False)),
                }
                if guild_id:
                    entry["guild_id"] = guild_id
                else:
                    entry["dm_permission"] = cmd.get("dm_permission", True)
                    entry["contexts"] = cmd.get("contexts")
                    entry["integration_types"] = cmd.get("integration_types") or [0]
                stored.append(entry)
            self._commands[key] = stored
            return _json_response(copy.deepcopy(stored))

    async def _h_get_commands(self, ctx: _Ctx) -> web.Response:
        if ctx.params["application_id"] != self.application_id:
            raise _ApiError(403, "Missing Access", 50001)
        with self._lock:
            return _json_response(copy.deepcopy(self._commands.get(ctx.params.get("guild_id") or "global", [])))

    def _find_command(self, name: str, guild_id: str | None, *, dm: bool) -> tuple[JSON | None, str | None]:
        if guild_id:
            for cmd in self._commands.get(guild_id, []):
                if cmd["name"] == name and cmd["type"] == 1:
                    return cmd, guild_id
        for cmd in self._commands["global"]:
            if cmd["name"] != name or cmd["type"] != 1:
                continue
            contexts = cmd.get("contexts")
            if dm and (cmd.get("dm_permission") is False or (contexts is not None and 1 not in contexts)):
                continue
            if not dm and contexts is not None and 0 not in contexts:
                continue
            return cmd, None
        return None, None

    def _build_options(
        self, command: JSON | None, path: list[str], values: dict[str, Any], guild_id: str | None, resolved: JSON
    ) -> list[JSON]:
        declared = (command or {}).get("options") or []
        if path:
            sub = next((o for o in declared if o.get("name") == path[0]), None)
            sub_type = sub["type"] if sub else (2 if len(path) > 1 else 1)
            return [
                {
                    "name": path[0],
                    "type": sub_type,
                    "options": self._build_options(sub, path[1:], values, guild_id, resolved),
                }
            ]
        types = {o.get("name"): o.get("type") for o in declared}
        options = []
        for key, value in values.items():
            otype = types.get(key)
            if otype is None:
                if isinstance(value, bool):
                    otype = 5
                elif isinstance(value, int):
                    otype = 4
                elif isinstance(value, float):
                    otype = 10
                else:
                    otype = 3
            if otype == 6:
                value = str(value)
                user = self._users.get(value)
                if user is not None:
                    resolved.setdefault("users", {})[value] = copy.deepcopy(user)
                    member = self._members.get(guild_id or "", {}).get(value)
                    if member is not None:
                        m = {k: v for k, v in member.items() if k != "user"}
                        m["permissions"] = str(EVERYONE_PERMISSIONS)
                        resolved.setdefault("members", {})[value] = copy.deepcopy(m)
            elif otype == 7:
                value = str(value)
                channel = self._channels.get(value)
                if channel is not None:
                    resolved.setdefault("channels", {})[value] = {
                        "id": value,
                        "type": channel["type"],
                        "name": channel.get("name"),
                        "permissions": str(BOT_ROLE_PERMISSIONS),
                        **({"parent_id": channel.get("parent_id")}),
                    }
            options.append({"name": key, "type": otype, "value": value})
        return options

    def _interaction_channel(self, channel: JSON) -> JSON:
        if channel["type"] == 1:
            return copy.deepcopy(channel)
        data = copy.deepcopy(channel)
        data["permissions"] = str(BOT_ROLE_PERMISSIONS)
        return data

    # ------------------------------------------------------------------ #
    # REST handlers: interactions and their webhooks
    # ------------------------------------------------------------------ #
    def _interaction_message(self, inter: JSON, content: str | None, flags: int) -> JSON:
        channel = self._channels[inter["channel_id"]]
        msg = self._new_message(channel, self._bot_user, content, mtype=20)
        msg["flags"] = flags
        msg["webhook_id"] = self.application_id
        msg["application_id"] = self.application_id
        msg["interaction_metadata"] = {
            "id": inter["id"],
            "type": inter["payload"]["type"],
            "name": inter["payload"]["data"].get("name", ""),
            "user": copy.deepcopy(self._users[inter["user_id"]]),
            "authorizing_integration_owners": {},
        }
        return msg

    def _update_pressed_message(self, ctx: _Ctx, inter: JSON, data: JSON) -> JSON:
        """Callback type 7 (UPDATE_MESSAGE): edit the message whose component was pressed."""
        pressed = inter["payload"].get("message")
        if inter["payload"]["type"] != 3 or not pressed:
            raise _ApiError(400, "Interaction response type 7 is only valid for component interactions", 50035)
        msg = self._messages.get(pressed["id"])
        if msg is None:
            raise _ApiError(404, "Unknown Message", 10008)
        new_attachments = self._apply_edit(ctx, msg, data)
        msg["edited_timestamp"] = _iso(datetime.now(UTC))
        self._record_uploads(ctx, msg, new_attachments)
        return msg

    async def _h_callback(self, ctx: _Ctx) -> web.Response:
        iid = ctx.params["interaction_id"]
        body = ctx.json if isinstance(ctx.json, dict) else {}
        ctx.interaction_id = iid
        ctype = body.get("type")
        ctx.callback_type = ctype if isinstance(ctype, int) else None
        data = body.get("data") or {}
        dispatch: tuple[str, str] | None = None
        with self._lock:
            inter = self._interactions.get(iid)
            if inter is None or inter["token"] != ctx.params["token"]:
                raise _ApiError(404, "Unknown interaction", 10062)
            deadline = self.limits.interaction_ack_deadline
            if deadline and ctx.t - inter["created"] > deadline:
                raise _ApiError(404, "Unknown interaction", 10062)
            if inter["acked"]:
                raise _ApiError(400, "Interaction has already been acknowledged.", 40060)
            if ctype not in (1, 4, 5, 6, 7, 8, 9):
                raise _form_error(
                    {"type": _field_error("BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.")}
                )
            ctx.channel_id = inter["channel_id"]
            message: JSON | None = None
            ephemeral = bool(int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            if ctype == 4:
                self._validate_message(data, len(ctx.files), ctx.files)
                message = self._interaction_message(
                    inter, data.get("content"), int(data.get("flags") or 0) & _SETTABLE_MESSAGE_FLAGS
                )
                message["embeds"] = data.get("embeds") or []
                message["components"] = data.get("components") or []
                attachments = self._attachments_from_request(ctx, inter["channel_id"], data)
                message["attachments"] = attachments
                self._store_message(message)
                self._record_uploads(ctx, message, attachments)
            elif ctype == 7:
                message = self._update_pressed_message(ctx, inter, data)
            elif ctype == 5:
                message = self._interaction_message(
                    inter, "", MESSAGE_FLAG_LOADING | (MESSAGE_FLAG_EPHEMERAL if ephemeral else 0)
                )
                self._store_message(message)
                inter["loading"] = True
            inter["acked"] = True
            inter["callback_type"] = ctype
            if message is not None:
                inter["original_id"] = message["id"]
                ctx.message_id = message["id"]
                if not ephemeral:
                    dispatch = ("MESSAGE_UPDATE" if ctype == 7 else "MESSAGE_CREATE", message["id"])
            result_message = copy.deepcopy(message)
        if dispatch:
            await self._dispatch_message(*dispatch)
        if ctx.request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        response: JSON = {
            "interaction": {
                "id": iid,
                "type": inter["payload"]["type"],
                "activity_instance_id": None,
                "response_message_id": result_message["id"] if result_message else None,
                "response_message_loading": ctype == 5,
                "response_message_ephemeral": ephemeral,
            },
            "resource": {"type": ctype},
        }
        if result_message is not None:
            response["resource"]["message"] = result_message
        return _json_response(response)

    def _webhook_interaction(self, ctx: _Ctx) -> JSON:
        if ctx.params["application_id"] != self.application_id:
            raise _ApiError(404, "Unknown Webhook", 10015)
        iid = self._interaction_by_token.get(ctx.params["token"])
        ctx.interaction_id = iid
        inter = self._interactions.get(iid or "")
        # Discord answers "Unknown Webhook" to follow-ups before the interaction was acknowledged.
        if inter is None or not inter["acked"]:
            raise _ApiError(404, "Unknown Webhook", 10015)
        ctx.interaction_id = inter["id"]
        ctx.channel_id = inter["channel_id"]
        return inter

    def _webhook_message(self, ctx: _Ctx, inter: JSON) -> JSON:
        ref = ctx.params["message_id"]
        mid = inter["original_id"] if ref == "@original" else ref
        if mid is None or (mid != inter["original_id"] and mid not in inter["followups"]) or mid not in self._messages:
            raise _ApiError(404, "Unknown Message", 10008)
        ctx.message_id = mid
        return self._messages[mid]

    async def _h_followup(self, ctx: _Ctx) -> web.Response:
        payload = ctx.json if isinstance(ctx.json, dict) else {}
        with self._lock:
            inter = self._webhook_interaction(ctx)
            original = self._messages.get(inter["original_id"] or "")
            if inter["loading"] and original is not None:
                # The first follow-up after a deferred response replaces the "thinking" message.
                self._validate_message(payload, len(ctx.files), ctx.files)
                event = "MESSAGE_UPDATE"
                msg = original
                msg["content"] = payload.get("content") or ""
                msg["mentions"] = self._mentions(msg["content"])
                msg["embeds"] = payload.get("embeds") or []
                msg["components"] = payload.get("components") or []
                msg["flags"] &= ~MESSAGE_FLAG_LOADING
                attachments = self._attachments_from_request(ctx, msg["channel_id"], payload)
                msg["attachments"] = attachments
                inter["loading"] = False
            else:
                self._validate_message(payload, len(ctx.files), ctx.files)
                event = "MESSAGE_CREATE"
                msg = self._interaction_message(
                    inter, payload.get("content"), int(payload.get("flags") or 0) & _SETTABLE_MESSAGE_FLAGS
                )
                msg["embeds"] = payload.get("embeds") or []
                msg["components"] = payload.get("components") or []
                attachments = self._attachments_from_request(ctx, msg["channel_id"], payload)
                msg["attachments"] = attachments
                self._store_message(msg)
                inter["followups"].append(msg["id"])
            self._record_uploads(ctx, msg, attachments)
            ctx.message_id = msg["id"]
            ephemeral = bool(msg["flags"] & MESSAGE_FLAG_EPHEMERAL)
            result = copy.deepcopy(msg)
        if not ephemeral:
            await self._dispatch_message(event, result["id"])
        return _json_response(result)

    async def _h_webhook_edit(self, ctx: _Ctx) -> web.Response:
        payload = ctx.json if isinstance(ctx.json, dict) else {}
        with self._lock:
            inter = self._webhook_interaction(ctx)
            msg = self._webhook_message(ctx, inter)
            was_loading = bool(msg["flags"] & MESSAGE_FLAG_LOADING)
            new_attachments = self._apply_edit(ctx, msg, payload)
            if was_loading:
                msg["flags"] &= ~MESSAGE_FLAG_LOADING
                inter["loading"] = False
            else:
                msg["edited_timestamp"] = _iso(datetime.now(UTC))
            self._record_uploads(ctx, msg, new_attachments)
            ephemeral = bool(msg["flags"] & MESSAGE_FLAG_EPHEMERAL)
            result = copy.deepcopy(msg)
        if not ephemeral:
            await self._dispatch_message("MESSAGE_UPDATE", result["id"])
        return _json_response(result)

    async def _h_webhook_get(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            inter = self._webhook_interaction(ctx)
            return _json_response(copy.deepcopy(self._webhook_message(ctx, inter)))

    async def _h_webhook_delete(self, ctx: _Ctx) -> web.Response:
        with self._lock:
            inter = self._webhook_interaction(ctx)
            msg = self._webhook_message(ctx, inter)
            self._remove_message(msg)
            if msg["id"] == inter["original_id"]:
                inter["loading"] = False
            payload = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if msg.get("guild_id"):
                payload["guild_id"] = msg["guild_id"]
            ephemeral = bool(msg["flags"] & MESSAGE_FLAG_EPHEMERAL)
        if not ephemeral:
            await self._dispatch_all("MESSAGE_DELETE", lambda: payload)
        return web.Response(status=204)
