"""HTTP mode: Slack POSTs events and slash commands to ``/slack/events`` on the bot's web server.

Requests go to Bolt through its Starlette/FastAPI adapter (``AsyncSlackRequestHandler``),
which checks the signature (``X-Slack-Signature``, HMAC-SHA256 of the body with
the signing secret) and the timestamp (at most 5 minutes old) and answers 401
otherwise.  In front of it, :class:`SlackHttpEndpoint` bounds what a stranger can
make the bot do: a body over 1 MiB gets 413, a body still incomplete after a few
seconds 408, a timestamp that is not a number 401 (Bolt would fail with a 500);
Bolt's log line that quotes the whole body of a wrongly signed request is
silenced.  Behind the signature check, a request Slack already delivered (same
event id or trigger id, within the 5 minutes a signature stays valid) is
acknowledged without running again: Slack's own retries, and a captured, validly
signed slash command sent again by someone else.

The bot mounts :meth:`SlackHttpEndpoint.handle` on its one web server
(bot/web.py); :class:`SlackHttpServer` serves it alone for running the adapter
without that server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from adapters.errors import PlatformStartError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024
READ_TIMEOUT = 5.0
# Bolt refuses signatures older than this, so a request seen earlier than that cannot come back.
REPLAY_WINDOW = 5 * 60 + 30
REMEMBERED_REQUESTS = 50_000
EMPTY_SECRET = (
    "SLACK_SIGNING_SECRET is empty: Slack HTTP mode needs the app's Signing Secret "
    "(api.slack.com/apps → your app → Basic Information → App Credentials)."
)
# Bolt logs the full body of every wrongly signed request at INFO; forged requests must not fill the log.
_NOISY = ("slack_bolt.RequestVerification", "slack_bolt.AsyncRequestVerification")


def check_signing_secret(secret: str | None) -> str:
    """The signing secret, or :class:`PlatformStartError` when it is missing or blank (anyone could sign then)."""
    if secret is None or not secret.strip():
        raise PlatformStartError(EMPTY_SECRET)
    return secret


class _Seen:
    """Request ids seen in the last ``window`` seconds (event ids, trigger ids)."""

    def __init__(self, window: float, limit: int, clock: Callable[[], float]) -> None:
        self.window = window
        self.limit = limit
        self.clock = clock
        self._ids: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str) -> bool:
        now = self.clock()
        while self._ids:
            oldest, at = next(iter(self._ids.items()))
            if now - at < self.window and len(self._ids) < self.limit:
                break
            del self._ids[oldest]
        if key in self._ids:
            return False
        self._ids[key] = now
        return True


def request_key(body: dict[str, Any]) -> str | None:
    """What makes a Slack request unique: its event id (Events API) or its trigger id (commands, actions)."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return f"event:{event_id}"
    trigger_id = body.get("trigger_id")
    if isinstance(trigger_id, str) and trigger_id:
        return f"trigger:{trigger_id}"
    return None


class _TooLarge(Exception):
    pass


class SlackHttpEndpoint:
    """Feeds Slack's requests to the Bolt app, within limits, each request once."""

    def __init__(
        self,
        app: AsyncApp,
        *,
        max_body: int = MAX_BODY,
        read_timeout: float = READ_TIMEOUT,
        replay_window: float = REPLAY_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_body`` bytes at most, read within ``read_timeout`` seconds; ids remembered ``replay_window`` s."""
        self.app = app
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.handler = AsyncSlackRequestHandler(app)
        self._seen = _Seen(replay_window, REMEMBERED_REQUESTS, clock)
        for name in _NOISY:
            _quiet(logging.getLogger(name))
        seen = self._seen

        async def once(req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:  # noqa: A002 - Bolt passes arguments by name
            if req.mode == "http":
                key = request_key(req.body)
                if key is not None and not seen.first_time(key):
                    retry = req.headers.get("x-slack-retry-num", [""])[0]
                    again = f" (retry {retry})" if retry else ""
                    log.info("Slack delivered %s again%s; acknowledged, not run again", key, again)
                    return BoltResponse(status=200, body="")
            return await next()

        # Bolt's own middleware (the signature check) runs first, so only signed requests are remembered.
        app.middleware(once)

    def check(self) -> None:
        """Raise :class:`PlatformStartError` (one sentence) when the app has no usable signing secret."""
        check_signing_secret(getattr(self.app, "_signing_secret", None))

    async def handle(self, request: Request) -> Response:
        """Dispatch one Slack request; Bolt verifies it and acks before the work is done."""
        stamp = request.headers.get("x-slack-request-timestamp", "")
        if not stamp.isascii() or not stamp.isdigit():
            log.info("refused a Slack request without a valid timestamp")
            return _refusal(401, "invalid request")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            log.info("refused a Slack request of %s bytes", declared)
            return _refusal(413, "request too large")
        try:
            body = await asyncio.wait_for(self._read(request), self.read_timeout)
        except _TooLarge:
            log.info("refused a Slack request over %d bytes", self.max_body)
            return _refusal(413, "request too large")
        except TimeoutError:
            log.info("cut a Slack request whose body did not arrive within %.0fs", self.read_timeout)
            return _refusal(408, "request body too slow")
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        response = await self.handler.handle(Request(request.scope, replay))
        if response.status_code == 401:
            log.info("refused a Slack request with a wrong or stale signature (%d bytes)", len(body))
        return response

    async def _read(self, request: Request) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def _below_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def _quiet(logger: logging.Logger) -> None:
    # A filter, not only a level: Bolt resets the level of its loggers whenever it builds an app.
    logger.setLevel(logging.WARNING)
    if _below_warning not in logger.filters:
        logger.addFilter(_below_warning)


def _refusal(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)


class SlackHttpServer:
    """Serves the endpoint alone (the adapter without the bot's web server, e.g. in tests)."""

    def __init__(self, endpoint: SlackHttpEndpoint, host: str, port: int) -> None:
        self.endpoint = endpoint
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.endpoint.check()
        app = Starlette(routes=[Route(EVENTS_PATH, self.endpoint.handle, methods=["POST"])])
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise PlatformStartError(f"Slack HTTP mode cannot listen on {self.host}:{self.port} ({exc}).") from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
        server = self._server = _QuietServer(config)
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="slack-http")
        while not server.started:
            if self._task.done():
                self._task.result()
                raise PlatformStartError("Slack HTTP mode's server stopped before it started.")
            await asyncio.sleep(0.01)
        log.info("Slack events are served on http://%s:%d%s", self.host, self.port, EVENTS_PATH)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{EVENTS_PATH}"

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._task, 5)
        self._server = None
        self._task = None


class _QuietServer(uvicorn.Server):
    """Leaves signal handling to the bot's runtime."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()

    def install_signal_handlers(self) -> None:
        return None
