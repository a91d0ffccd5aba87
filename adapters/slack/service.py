"""The Slack adapter as a service of the bot: start, run, stop.

Socket Mode by default (a WebSocket opened with the app token, no public URL
needed); HTTP mode serves Slack's signed requests instead.  On start, answers
that a previous process left half-written are closed off before any new event
is handled; on stop, answers in progress are closed off with a note.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Literal

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.delivery import close_interrupted
from adapters.errors import PlatformStartError
from adapters.slack.answers import AnswerRunner
from adapters.slack.buttons import ButtonPresses
from adapters.slack.commands import SlashCommands
from adapters.slack.conversations import ConversationHandler, SurfaceFactory
from adapters.slack.credentials import check_bot_token, open_socket_url
from adapters.slack.files import DOWNLOAD_TIMEOUT, SLACK_FILE_HOST, FileFetcher
from adapters.slack.http import SlackHttpEndpoint, SlackHttpServer
from adapters.slack.identity import PLATFORM, SlackIdentities
from adapters.slack.listeners import register_listeners
from adapters.slack.messenger import SlackMessenger
from adapters.slack.threads import ActiveThreads
from adapters.slack.workspace import SlackRateLimits, Workspaces
from adapters.strangers import StrangerGate
from core.attachments import AttachmentPolicy
from core.chat import ChatService
from core.commands import CommandSet
from core.messenger import Outbox

log = logging.getLogger(__name__)


class SlackService:
    """Connects the assistant to one Slack app (bot token + app token, or signing secret in HTTP mode)."""

    name = "slack"

    def __init__(
        self,
        *,
        chat: ChatService,
        commands: CommandSet,
        bot_token: str,
        app_token: str = "",
        signing_secret: str = "",
        mode: Literal["socket", "http"] = "socket",
        api_url: str = "https://slack.com/api/",
        native_streaming: bool = False,
        assistant_status: bool = False,
        web_host: str = "127.0.0.1",
        web_port: int = 8080,
        serve_http: bool = True,
        limits: SlackRateLimits | None = None,
        stop_timeout: float = 10.0,
        outbox: Outbox | None = None,
        attachments: AttachmentPolicy | None = None,
        file_host: str = SLACK_FILE_HOST,
        download_timeout: float = DOWNLOAD_TIMEOUT,
        gate: StrangerGate,
    ) -> None:
        """``bot_token`` (xoxb) and, for Socket Mode, ``app_token`` (xapp); ``signing_secret`` for HTTP mode.

        ``assistant_status`` shows "is thinking…" (assistant.threads.setStatus)
        until the first text, for apps with the assistant feature.  ``limits``
        are the rate windows kept to (Slack's published limits by default).  In
        HTTP mode the service serves ``/slack/events`` on ``web_host:web_port``
        itself unless ``serve_http`` is False, when the bot's web server mounts
        :attr:`endpoint` instead.  ``outbox`` gets this platform's messenger once
        connected (and loses it on stop).  ``attachments`` decides which shared
        files are downloaded; the bot token goes only to ``file_host`` (Slack's
        file host; tests name their fake) and each download ends after
        ``download_timeout`` seconds.  ``gate`` decides access before any work on a message
        (the process's one gate, shared with the other platforms and told about sign-ins).
        """
        self.chat = chat
        self.mode = mode
        self.web_host = web_host
        self.web_port = web_port
        self.serve_http = serve_http
        self.stop_timeout = stop_timeout
        self.outbox = outbox
        self.waiting_for = ""  # what start() waits for, said by the runtime when it takes long
        self.app_token = app_token
        self.client = AsyncWebClient(token=bot_token, base_url=_api_base(api_url))
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            request_verification_enabled=self.mode == "http",
            # The listeners ack at once and do the work in tasks of their own.
            process_before_response=False,
            name="captainslog",
        )
        self.workspaces = Workspaces(limits)
        self.surfaces = SurfaceFactory(self.client, self.workspaces)
        self.identities = SlackIdentities(self.client)
        self.answers = AnswerRunner(chat=chat, native_streaming=native_streaming, assistant_status=assistant_status)
        self._session: aiohttp.ClientSession | None = None
        self.conversations = ConversationHandler(
            chat=chat,
            answers=self.answers,
            surfaces=self.surfaces,
            identities=self.identities,
            files=FileFetcher(
                self._http_session, bot_token, policy=attachments, file_host=file_host, timeout=download_timeout
            ),
            threads=ActiveThreads(chat.has_conversation),
            gate=gate,
        )
        self.messenger = SlackMessenger(self.client, self.surfaces)
        self.slash_commands = SlashCommands(commands=commands, identities=self.identities, surfaces=self.surfaces)
        presses = ButtonPresses(commands=commands, identities=self.identities, surfaces=self.surfaces)
        register_listeners(
            self.app,
            conversations=self.conversations,
            slash_commands=self.slash_commands,
            presses=presses,
            spawn=self.spawn,
        )
        self.endpoint = SlackHttpEndpoint(self.app)
        self._socket: AsyncSocketModeHandler | None = None
        self._http: SlackHttpServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepting = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the bot token, close off answers a previous process left open, then start receiving events.

        A token Slack refuses (or Slack out of reach) raises :class:`PlatformStartError`,
        one sentence naming SLACK_BOT_TOKEN or SLACK_APP_TOKEN, after closing what
        was opened; it is asked once, never retried.
        """
        if self.mode != "http" and not self.app_token:
            raise PlatformStartError(
                "Slack Socket Mode needs SLACK_APP_TOKEN (or SLACK_MODE=http with SLACK_SIGNING_SECRET)."
            )
        self._session = aiohttp.ClientSession()
        self.client.session = self._session  # one connection pool for every Web API call
        try:
            await self._start_receiving()
        except PlatformStartError:
            await self.stop()
            raise
        log.info("Slack connected (%s mode)", self.mode)
        if self.outbox is not None:
            self.outbox.register(self.messenger)

    async def _start_receiving(self) -> None:
        self.waiting_for = f"Slack to answer auth.test at {self.client.base_url} (SLACK_API_URL)"
        await check_bot_token(self.client)
        self.waiting_for = "the database to close off answers a previous run left open"
        await self.recover()
        self._accepting = True
        if self.mode == "http":
            if not self.serve_http:
                log.info("Slack HTTP mode: events arrive through the bot's web server")
                return
            self._http = SlackHttpServer(self.endpoint, self.web_host, self.web_port)
            await self._http.start()
        else:
            self.waiting_for = "Slack's Socket Mode connection (apps.connections.open, SLACK_APP_TOKEN)"
            self._socket = AsyncSocketModeHandler(self.app, self.app_token, web_client=self.client)
            # Asked here once: the library's own connect loop retries a refused app token forever.
            self._socket.client.wss_uri = await open_socket_url(self.client, self.app_token)
            await self._socket.connect_async()

    async def stop(self) -> None:
        """Stop receiving events, close off answers in progress, finish or cancel the rest."""
        if self.outbox is not None:
            self.outbox.unregister(PLATFORM)
        self._accepting = False
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._http is not None:
            await self._http.stop()
            self._http = None
        await self.answers.interrupt_all(self.stop_timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.stop_timeout)
        if self._session is not None:
            self.client.session = None
            await self._session.close()
            self._session = None

    async def recover(self) -> int:
        """Close off, on Slack, every answer a previous process was writing when it died; returns how many."""
        answers = await self.chat.recover_interrupted(PLATFORM)
        for answer in answers:
            try:
                await close_interrupted(self.surfaces.for_conversation(answer.conversation), answer)
            except Exception:  # noqa: BLE001 - one stale message must not keep the bot from starting
                log.exception("could not close off interrupted answer %s", answer.message_id)
        if answers:
            log.info("closed off %d answer(s) cut by a restart", len(answers))
        return len(answers)

    @property
    def http_url(self) -> str | None:
        """Where HTTP mode listens (``http://host:port/slack/events``), once started."""
        return self._http.url if self._http is not None else None

    # -- background work ----------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run ``work`` as a task of this service (stop() waits for it or cancels it)."""
        if not self._accepting:
            work.close()
            return None
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one event's failure is logged, the bot goes on
            log.exception("handling a Slack event failed")

    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise RuntimeError("the Slack service is not started")
        return self._session


def _api_base(url: str) -> str:
    """slack_sdk joins method names onto the base URL, which must end with a slash."""
    return url if url.endswith("/") else url + "/"
