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
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.render import close_interrupted
from adapters.slack.answers import AnswerRunner
from adapters.slack.commands import SlashCommands
from adapters.slack.conversations import ConversationHandler, SurfaceFactory
from adapters.slack.files import FileFetcher
from adapters.slack.http import SlackHttpEndpoint, SlackHttpServer
from adapters.slack.identity import PLATFORM, SlackIdentities
from adapters.slack.listeners import register_listeners
from adapters.slack.threads import ActiveThreads
from adapters.slack.workspace import SlackRateLimits, Workspaces
from core.chat import ChatService
from core.commands import CommandSet

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.container import Container

log = logging.getLogger(__name__)


def _secret(value: Any) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


class SlackService:
    """Connects the assistant to one Slack app (bot token + app token, or signing secret in HTTP mode)."""

    name = "slack"

    def __init__(
        self,
        *,
        chat: ChatService,
        commands: CommandSet,
        settings: Settings,
        assistant_status: bool | None = None,
        limits: SlackRateLimits | None = None,
        serve_http: bool = True,
        stop_timeout: float = 10.0,
    ) -> None:
        """``settings`` gives the tokens, mode, API URL, native streaming and the web host/port.

        ``assistant_status`` shows "is thinking…" (assistant.threads.setStatus)
        until the first text, for apps with the assistant feature; by default it
        follows ``settings.slack_assistant_status`` when that setting exists.
        ``limits`` are the rate windows kept to (Slack's published limits by
        default).  In HTTP mode the service serves ``/slack/events`` on
        ``web_host:web_port`` itself unless ``serve_http`` is False, when the
        bot's web server mounts :attr:`endpoint` instead.
        """
        if assistant_status is None:
            assistant_status = bool(getattr(settings, "slack_assistant_status", False))
        self.chat = chat
        self.settings = settings
        self.mode = settings.slack_mode
        self.serve_http = serve_http
        self.stop_timeout = stop_timeout
        bot_token = _secret(settings.slack_bot_token)
        self.app_token = _secret(settings.slack_app_token)
        self.client = AsyncWebClient(token=bot_token, base_url=_api_base(settings.slack_api_url))
        self.app = AsyncApp(
            client=self.client,
            signing_secret=_secret(settings.slack_signing_secret),
            request_verification_enabled=self.mode == "http",
            # The listeners ack at once and do the work in tasks of their own.
            process_before_response=False,
            name="captainslog",
        )
        self.workspaces = Workspaces(limits)
        self.surfaces = SurfaceFactory(self.client, self.workspaces)
        self.identities = SlackIdentities(self.client)
        self.answers = AnswerRunner(
            chat=chat, native_streaming=settings.slack_native_streaming, assistant_status=assistant_status
        )
        self._session: aiohttp.ClientSession | None = None
        self.conversations = ConversationHandler(
            chat=chat,
            answers=self.answers,
            surfaces=self.surfaces,
            identities=self.identities,
            files=FileFetcher(self._http_session, bot_token),
            threads=ActiveThreads(chat.conversations),
        )
        self.slash_commands = SlashCommands(commands=commands, identities=self.identities, surfaces=self.surfaces)
        register_listeners(
            self.app, conversations=self.conversations, slash_commands=self.slash_commands, spawn=self.spawn
        )
        self.endpoint = SlackHttpEndpoint(self.app)
        self._socket: AsyncSocketModeHandler | None = None
        self._http: SlackHttpServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._accepting = False

    @classmethod
    def from_container(cls, container: Container, **options: Any) -> SlackService:
        """The service wired from the bot's container (options as for the constructor)."""
        return cls(chat=container.chat, commands=container.commands, settings=container.settings, **options)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Close off answers a previous process left open, then start receiving events."""
        if self.mode != "http" and not self.app_token:
            raise RuntimeError("Slack Socket Mode needs SLACK_APP_TOKEN (or SLACK_MODE=http with SLACK_SIGNING_SECRET)")
        self._session = aiohttp.ClientSession()
        self.client.session = self._session  # one connection pool for every Web API call
        await self.recover()
        self._accepting = True
        if self.mode == "http":
            if not self.serve_http:
                log.info("Slack HTTP mode: events arrive through the bot's web server")
                return
            self._http = SlackHttpServer(self.endpoint, self.settings.web_host, self.settings.web_port)
            await self._http.start()
        else:
            self._socket = AsyncSocketModeHandler(self.app, self.app_token, web_client=self.client)
            await self._socket.connect_async()
        log.info("Slack connected (%s mode)", self.mode)

    async def stop(self) -> None:
        """Stop receiving events, close off answers in progress, finish or cancel the rest."""
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
