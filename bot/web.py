"""The bot's web server: FastAPI on uvicorn, one service of the runtime, inside the bot's event loop.

Routes: the web app (bot/webapp: ``/``, ``/chat``, ``/api/v1``…), ``GET /healthz``, ``GET /signin/{token}`` (the short link: redirects to Google's
consent), ``GET /oauth/google/callback`` (Google sends the browser back here) and the
settings page (``/settings/{token}``, ``/settings``: bot/settings_page.py). The
callback takes no redirect target from the request: it always answers with its own page.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import html
import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from adapters.errors import PlatformStartError
from bot.link_pages import add_link_routes, confirmation_page, connect_question, form_is_from_this_browser
from bot.settings_page import SettingsPage, add_settings_routes
from bot.webapp import WebApp, add_webapp
from bot.webapp.auth import GOOGLE_STATE_COOKIE, signed_in
from bot.webapp.chat import MAX_FRAME_BYTES
from core.events import EventBus, GoogleConnected, SignInFinished
from core.identity.signin import CALLBACK_PATH, Outcome, SignIn, SignInResult
from core.identity.states import StateRefused

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.4rem}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p>You can close this page and go back to the chat.</p></body></html>
"""

_TITLES = {
    Outcome.WEB_SIGNED_IN: "You're signed in",
    Outcome.SIGNED_IN: "You're signed in",
    Outcome.CONNECTED: "Google is connected",
    Outcome.NOT_ALLOWED: "Not allowed",
    Outcome.DENIED: "Sign-in cancelled",
    Outcome.INVALID_LINK: "This link no longer works",
    Outcome.FAILED: "Sign-in failed",
}
_STATUS = {Outcome.SIGNED_IN: 200, Outcome.CONNECTED: 200, Outcome.NOT_ALLOWED: 403, Outcome.INVALID_LINK: 400}
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def page(title: str, message: str, status: int = 200) -> HTMLResponse:
    """A small HTML page (escaped) that is never cached."""
    body = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)


def create_app(
    *,
    signin: SignIn | None,
    events: EventBus | None = None,
    settings_page: SettingsPage | None = None,
    webapp: WebApp | None = None,
) -> FastAPI:
    """The web app. Every sign-in step that names an account is published on ``events`` as
    :class:`SignInFinished` (success, refusal, waiting to confirm), a Google connection also as
    :class:`GoogleConnected`: subscribe before the app is built. The settings page (bot/settings_page.py,
    ``/settings``) and the web app (bot/webapp) answer 404 when None. ``app.state`` keeps them for the
    routes (a test may set ``app.state.signin`` after the server bound its port)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    # Read at each request, so a test may set it after the server has bound its port.
    app.state.signin = signin
    app.state.settings_page = settings_page
    app.state.webapp = webapp
    add_settings_routes(app)
    add_webapp(app)
    bus = events if events is not None else EventBus()

    async def report(result: SignInResult) -> None:
        """Publish a finished step (the DM to the account, the access gate's reset… subscribe to it)."""
        if result.identity is None:
            return
        await bus.publish(SignInFinished(result))
        if result.outcome is Outcome.CONNECTED and result.user_id is not None:
            await bus.publish(GoogleConnected(result.user_id))

    # Before the /signin/{token} routes: POST /signin/confirm must not be taken for a token.
    add_link_routes(app, report)

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/signin/{token}")
    async def signin_link(token: str) -> Response:
        signin: SignIn | None = app.state.signin
        if signin is None:
            return page("Sign-in is not set up", "This assistant has no Google sign-in configured.", 404)
        try:
            account = await signin.connect_to_confirm(token)
            if account is not None:
                google = "{0.scheme}://{0.netloc}".format(urlsplit(signin.oauth.config.auth_url))
                secure = signin.public_url.startswith("https://")
                return connect_question(account, token, secure=secure, google=google)
            url = await signin.consent_url(token)
        except StateRefused as refused:
            return page(_TITLES[Outcome.INVALID_LINK], signin.state_message(refused.problem), 400)
        return RedirectResponse(url, status_code=303, headers=_NO_STORE)

    @app.post("/signin/{token}")
    async def signin_link_confirmed(token: str, request: Request) -> Response:
        """The "Continue to Google" button of :func:`connect_question` (CSRF-checked)."""
        signin: SignIn | None = app.state.signin
        if signin is None:
            return page("Sign-in is not set up", "This assistant has no Google sign-in configured.", 404)
        if not await form_is_from_this_browser(request, token):
            return page(
                "Not connected", "This form could not be checked, so nothing happened. Open the link again.", 403
            )
        try:
            url = await signin.consent_url(token)
        except StateRefused as refused:
            return page(_TITLES[Outcome.INVALID_LINK], signin.state_message(refused.problem), 400)
        return RedirectResponse(url, status_code=303, headers=_NO_STORE)

    @app.get(CALLBACK_PATH)
    async def callback(
        request: Request, state: str = "", code: str | None = None, error: str | None = None
    ) -> Response:
        signin: SignIn | None = app.state.signin
        if signin is None:
            return page("Sign-in is not set up", "This assistant has no Google sign-in configured.", 404)
        bound = request.cookies.get(GOOGLE_STATE_COOKIE, "")
        same_browser = bool(state) and hmac.compare_digest(bound.encode(), state.encode())
        try:
            result = await signin.complete(state, code, error=error, same_browser=same_browser)
            if result.outcome is Outcome.WEB_SIGNED_IN:
                return await web_session(request, result)
        except Exception:
            log.exception("sign-in callback failed")
            return page(_TITLES[Outcome.FAILED], "Something went wrong on our side. Please try again later.", 500)
        if result.outcome is Outcome.CONFIRM:
            # Nothing happened yet: the person confirms on this page (bot/link_pages.py); the link is spent.
            await report(result)
            return confirmation_page(result, secure=signin.public_url.startswith("https://"))
        await report(result)
        return page(_TITLES[result.outcome], result.message, _STATUS.get(result.outcome, 400))

    async def web_session(request: Request, result: SignInResult) -> Response:
        """A Google sign-in to the web app: open its session and go on to the chat."""
        web: WebApp | None = app.state.webapp
        cookie = None
        if web is not None and result.identity is not None and result.user_id is not None:
            cookie = await web.sessions.open_for(result.identity, result.user_id)
        if web is None or cookie is None:
            return page(_TITLES[Outcome.NOT_ALLOWED], "This account may not use the web app.", 403)
        response = signed_in(request, web, cookie)
        response.delete_cookie(GOOGLE_STATE_COOKIE, path=CALLBACK_PATH, secure=web.sessions.secure_cookie)
        return response

    return app


def mount_slack(app: FastAPI, bolt_app: Any, path: str = "/slack/events") -> None:
    """Serve Slack's HTTP mode (events, commands) at ``path`` through bolt's FastAPI adapter.

    ``bolt_app`` is the Slack service's Bolt app, or its ``SlackHttpEndpoint`` (adapters/slack/http.py),
    which bounds body size and read time, refuses malformed timestamps and runs each request once.
    An empty signing secret raises ``PlatformStartError`` here, at start.
    """
    from adapters.slack.http import SlackHttpEndpoint

    endpoint = bolt_app if isinstance(bolt_app, SlackHttpEndpoint) else SlackHttpEndpoint(bolt_app)
    endpoint.check()

    async def slack_events(request: Request) -> Response:
        return await endpoint.handle(request)

    app.add_api_route(path, slack_events, methods=["POST"], include_in_schema=False)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the bot's runtime."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        # uvicorn >= 0.29 wraps serve() in this context manager; older releases call install_signal_handlers.
        return contextlib.nullcontext()

    def install_signal_handlers(self) -> None:
        return None


class WebAddressUnavailable(PlatformStartError):
    """The web server cannot listen where WEB_HOST and WEB_PORT say: one sentence saying what to change."""


# Why a bind fails, in words, for the errors a setting can cause (others keep their traceback: a bug).
_BIND_REASONS = {
    errno.EADDRINUSE: "that port is already in use (by another `captainslog`?)",
    errno.EACCES: "this user may not use that port (ports below 1024 need root)",
    errno.EADDRNOTAVAIL: "that address is not one of this machine's",
}


class WebServer:
    """The runtime service running the app on ``host:port`` (port 0 picks a free port; see :attr:`port`)."""

    name = "web"

    def __init__(self, app: FastAPI, *, host: str, port: int, stop_timeout: float = 5.0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.stop_timeout = stop_timeout
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._serving: list[tuple[Callable[[], None], Callable[[], None]]] = []

    def while_serving(self, started: Callable[[], None], stopped: Callable[[], None]) -> None:
        """Run `started` once the server accepts connections and `stopped` when it stops (the web app's messenger
        is in the Outbox only while someone can open the chat)."""
        self._serving.append((started, stopped))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind (errors such as a port in use raise here), serve as a task, return once it accepts connections."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            reason = _BIND_REASONS.get(exc.errno or 0)
            if reason is None:
                raise
            raise WebAddressUnavailable(
                f"The web app cannot listen on {self.host}:{self.port}: {reason}. Stop what holds it, or set "
                "WEB_PORT (or WEB_HOST) in .env to a free one."
            ) from exc
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        # No access log: the callback's query string carries the one-time code and state.
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", server_header=False,
            ws_max_size=MAX_FRAME_BYTES,  # a chat message with its images fits in one WebSocket message
        )  # fmt: skip
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the web server stopped before it started")
            await asyncio.sleep(0.01)
        log.info("web server listening on %s", self.url)
        for started, _ in self._serving:
            started()

    async def stop(self) -> None:
        """Ask uvicorn to finish and wait for it (cancelled after ``stop_timeout``)."""
        if self._server is None or self._task is None:
            return
        for _, stopped in self._serving:
            stopped()
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_timeout)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
        self._server = None
        self._task = None
