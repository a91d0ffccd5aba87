"""HTTP mode: Slack POSTs events and slash commands to ``/slack/events`` on the bot's web server.

Bolt checks every request's signature (``X-Slack-Signature``, HMAC-SHA256 of
the body with the signing secret) and its timestamp (at most 5 minutes old)
and answers 401 otherwise, so a forged or replayed request never reaches a
listener.  :meth:`SlackHttpEndpoint.handle` is a plain aiohttp handler, so the
bot's own web server can mount it; :class:`SlackHttpServer` serves it alone.
"""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class SlackHttpEndpoint:
    """The aiohttp handler that feeds Slack's requests to the Bolt app."""

    def __init__(self, app: AsyncApp) -> None:
        self.app = app

    async def handle(self, request: web.Request) -> web.Response:
        """Dispatch one Slack request; Bolt verifies it and acks before the work is done."""
        bolt_response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    def add_routes(self, router: web.UrlDispatcher, path: str = EVENTS_PATH) -> None:
        router.add_post(path, self.handle)


class SlackHttpServer:
    """A small aiohttp server for HTTP mode (until the bot's web server hosts the route)."""

    def __init__(self, endpoint: SlackHttpEndpoint, host: str, port: int) -> None:
        self.endpoint = endpoint
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        self.endpoint.add_routes(app.router)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses  # the port actually bound, when asked for port 0
        if addresses:
            self.port = int(addresses[0][1])
        log.info("Slack events are served on http://%s:%d%s", self.host, self.port, EVENTS_PATH)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{EVENTS_PATH}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
