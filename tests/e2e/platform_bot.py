"""One bot on one platform, as ``python -m bot run`` builds it, for tests that must pass on Discord and on Slack.

The real container (``Container.create``) is built from settings that point
the openai client at the OpenAI fake (the search endpoint too), Wikipedia at
the MediaWiki fake and the platform client (discord.py or slack-bolt) at its
fake.  :class:`PlatformBot` hides the platform: a test says what a user does
(a message, files, a slash command) and gets back what the user reads.

The OpenAI fake is scripted through :class:`Brain`, which answers by role (the
main model, the vision model, the search model, memory extraction), so the
order in which background calls arrive does not matter.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import pytest

from bot.config import Settings
from bot.container import Container
from bot.platforms import build_platform_services, slack_service
from bot.runtime import Service
from core.clock import ManualClock
from tests.fakes.discord_server import DiscordLimits, FakeDiscord
from tests.fakes.openai_server import ChatScript, FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack
from tests.fakes.wikipedia_server import FakeWikipedia

MARKER = "▌"
VISION_MODEL = "vision-test"
SEARCH_MODEL = "sonar-test"
IS_VOICE_MESSAGE = 1 << 13
PLATFORMS = ("discord", "slack")


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return re.sub(r"^\[[^\]]*\]\s*", "", str(content))
    return ""


@dataclass
class Brain:
    """The OpenAI fake's answers by role; each queue is used first, then a plain default."""

    main: deque[ChatScript] = field(default_factory=deque)
    vision: deque[ChatScript] = field(default_factory=deque)
    search: deque[ChatScript] = field(default_factory=deque)
    memories: deque[list[str]] = field(default_factory=deque)

    def __call__(self, body: dict[str, Any]) -> ChatScript:
        model = body.get("model")
        if model == VISION_MODEL:
            return self.vision.popleft() if self.vision else Reply("A small blue square on white.")
        if model == SEARCH_MODEL:
            return self.search.popleft() if self.search else Reply("Nothing found.")
        if body.get("response_format"):  # memory extraction asks for JSON
            facts = self.memories.popleft() if self.memories else []
            return Reply(json.dumps({"memories": [{"text": f, "replaces": None} for f in facts]}))
        if body.get("stream") and self.main:
            return self.main.popleft()
        return Reply("You said: " + last_user_text(body))


def requests_for(openai_fake: FakeOpenAI, model: str) -> list[dict[str, Any]]:
    return [body for body in openai_fake.chat_requests() if body.get("model") == model]


def answer_requests(openai_fake: FakeOpenAI) -> list[dict[str, Any]]:
    """The main model's (streamed) requests, oldest first."""
    return [body for body in openai_fake.chat_requests() if body.get("stream")]


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [str(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "tool"]


@dataclass(frozen=True)
class CommandAnswer:
    text: str
    uploads: list[str]  # names of the files the answer carried


class BotRun:
    """The bot built from the settings ``values``, as ``python -m bot run`` builds it; restartable with other settings."""

    def __init__(self, values: dict[str, Any], *, clock: ManualClock | None = None) -> None:
        self.values = values
        self.clock = clock  # "now" of the container (default: the real clock)
        self.container: Container | None = None
        self.services: list[Service] = []

    def build_services(self, settings: Settings, container: Container) -> list[Service]:
        """The services :meth:`start` runs: the platforms', as ``build_platform_services`` builds them."""
        return build_platform_services(container)

    async def start(self, **overrides: Any) -> Container:
        """Build the container from the settings (``overrides`` over :attr:`values`) and start its services."""
        settings = Settings(_env_file=None, **{**self.values, **overrides})  # type: ignore[call-arg]
        self.container = await (
            Container.create(settings, clock=self.clock) if self.clock else Container.create(settings)
        )
        self.services = self.build_services(settings, self.container)
        for service in self.services:
            await asyncio.wait_for(service.start(), 15)
        return self.container

    async def stop(self) -> None:
        """Stop the services, last started first, and close the container; :meth:`start` may follow."""
        for service in reversed(self.services):
            await service.stop()
        self.services = []
        if self.container is not None:
            await self.container.close()
            self.container = None


Run = TypeVar("Run", bound=BotRun)


@asynccontextmanager
async def stopped_afterwards(run: Run) -> AsyncIterator[Run]:
    """``run``, stopped when the block ends, however it ends."""
    try:
        yield run
    finally:
        await run.stop()


class PlatformBot(BotRun):
    """A running bot on ``platform`` ("discord" or "slack") and that platform's fake."""

    def __init__(
        self,
        platform: str,
        tmp_path: Path,
        database_url: str,
        openai_fake: FakeOpenAI,
        wikipedia: FakeWikipedia,
        discord_fake: FakeDiscord | None = None,
        slack_fake: FakeSlack | None = None,
    ) -> None:
        self.platform = platform
        self.openai = openai_fake
        self.wikipedia = wikipedia
        self.discord = discord_fake
        self.slack = slack_fake
        self.brain = Brain()
        openai_fake.default = self.brain
        self._slack_users = 0
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "openai_api_key": "sk-test",
            "openai_base_url": openai_fake.base_url,
            "openai_max_retries": 0,
            "vision_model": VISION_MODEL,
            "search_base_url": openai_fake.base_url,
            "search_api_key": "sk-test",
            "search_model": SEARCH_MODEL,
            "wikipedia_api_url": wikipedia.api_url,
            "memory_extraction": False,
            "allowed_accounts": [f"{platform}:*"],
            "agent_timeout": 10,
        }
        if platform == "discord":
            assert discord_fake is not None
            values |= {
                "discord_token": discord_fake.bot_token,
                "discord_api_url": discord_fake.api_url,
                "discord_gateway_url": discord_fake.gateway_url,
            }
        else:
            assert slack_fake is not None
            values |= {
                "slack_bot_token": slack_fake.bot_token,
                "slack_app_token": slack_fake.app_token,
                "slack_api_url": slack_fake.api_url,
            }
        super().__init__(values)

    def build_services(self, settings: Settings, container: Container) -> list[Service]:
        if self.platform == "discord":
            return super().build_services(settings, container)
        # As build_platform_services builds it, with the fake's file host in place of files.slack.com.
        assert self.slack is not None
        return [
            slack_service(
                settings,
                chat=container.chat,
                gate=container.gate,
                commands=container.commands,
                outbox=container.outbox,
                file_host=self.slack.url,
            )
        ]

    async def idle(self) -> None:
        """Wait for the turns to end (an answer shows before it is stored) and their after-answer work."""
        assert self.container is not None
        chat = self.container.chat
        for _ in range(1000):
            await chat.tasks.wait_idle()
            if not chat.turns_in_progress:
                break
            await asyncio.sleep(0.01)
        await chat.tasks.wait_idle()

    # -- people ---------------------------------------------------------------------------

    def new_user(self, name: str) -> str:
        if self.discord is not None:
            return str(self.discord.add_user(name=name)["id"])
        self._slack_users += 1
        return f"U0{name.upper()}{self._slack_users}"

    # -- what people see --------------------------------------------------------------------

    def texts(self, user: str) -> list[str]:
        """The bot's messages in the user's DM, as they read now."""
        if self.discord is not None:
            channel = self.discord.dm_channel_id(user)
            if channel is None:
                return []
            messages = self.discord.channel_messages(channel)
            return [m["content"] for m in messages if m["author"]["id"] == self.discord.bot_user_id]
        assert self.slack is not None
        return self.slack.texts(self.slack.dm_channel(user))

    def shown_while_answering(self, user: str) -> list[str]:
        """Every text the bot sent to the user's DM, edits included (status lines show here)."""
        if self.discord is not None:
            channel = self.discord.dm_channel_id(user)
            return [e.content or "" for e in self.discord.log if e.channel_id == channel]
        assert self.slack is not None
        channel = self.slack.dm_channel(user)
        return [e.text or "" for e in self.slack.log if e.channel == channel]

    def uploads(self, user: str) -> list[str]:
        """The names of the files the bot uploaded into the user's DM."""
        if self.discord is not None:
            channel = self.discord.dm_channel_id(user)
            return [u.filename for u in self.discord.uploads if u.channel_id == channel]
        assert self.slack is not None
        channel = self.slack.dm_channel(user)
        return [u.filename for u in self.slack.uploads if u.channel == channel]

    async def says(
        self, user: str, text: str, files: list[tuple[str, bytes, str]] | None = None, *, voice: bool = False
    ) -> str:
        """The user writes (with files); returns the bot's finished answer (its new messages, joined)."""
        before = len(self.texts(user))
        if self.discord is not None:
            self.discord.user_sends_dm(user, text, attachments=files or (), flags=IS_VOICE_MESSAGE if voice else 0)
        else:
            assert self.slack is not None
            self.slack.user_sends_dm(user, text, files=files or ())
        return "\n".join(t for t in await self.new_texts(user, before) if t)

    async def new_texts(self, user: str, before: int, count: int = 1, timeout: float = 20) -> list[str]:
        def finished(*_: Any) -> list[str] | None:
            new = self.texts(user)[before:]
            # A message that only carries a file has no text; the answer is the text.
            done = len([t for t in new if t]) >= count and all(MARKER not in t for t in new)
            return new if done else None

        if self.discord is not None:
            return await self.discord.await_for(finished, timeout)
        assert self.slack is not None
        return await self.slack.await_for(finished, timeout=timeout)

    async def uploaded(self, user: str, count: int) -> list[str]:
        """Wait until the DM has ``count`` uploads; returns their names."""

        def enough(*_: Any) -> list[str] | None:
            names = self.uploads(user)
            return names if len(names) >= count else None

        if self.discord is not None:
            return await self.discord.await_for(enough, 20)
        assert self.slack is not None
        return await self.slack.await_for(enough, timeout=20)

    async def command(self, user: str, name: str, options: dict[str, str] | None = None) -> CommandAnswer:
        """A slash command; returns the text of its answer and the files it carried.

        On Slack the options are typed as one line (``name:value``; a command's only
        option takes the whole text), as people type them.
        """
        options = options or {}
        if self.discord is not None:
            return await self._discord_command(user, name, options)
        return await self._slack_command(user, name, options)

    async def _discord_command(self, user: str, name: str, options: dict[str, str]) -> CommandAnswer:
        fake = self.discord
        assert fake is not None
        seen = len(fake.interaction_responses)
        self.discord.invoke_command(user, name, options)  # type: ignore[union-attr]

        def answered(_fake: FakeDiscord) -> CommandAnswer | None:
            for record in fake.interaction_responses[seen:]:
                payload = record.payload or {}
                data = payload.get("data") or payload
                content = data.get("content")
                if content and content != "Working on it…":
                    names = [a.get("filename", "") for a in data.get("attachments") or []]
                    return CommandAnswer(str(content), names)
            return None

        answer = await fake.await_for(answered, 20)
        if answer.uploads:
            names = await self.uploaded(user, 1)
            answer = CommandAnswer(answer.text, names)
        return answer

    async def _slack_command(self, user: str, name: str, options: dict[str, str]) -> CommandAnswer:
        fake = self.slack
        assert fake is not None
        if len(options) == 1 and name == "memory":
            text = next(iter(options.values()))
        else:
            text = " ".join(f"{key}:{value}" for key, value in options.items())
        seen_posts = len(fake.response_url_posts)
        seen_uploads = len(fake.uploads)
        fake.slash_command(user, f"/{name}", text)

        def answered() -> CommandAnswer | None:
            for upload in fake.uploads[seen_uploads:]:
                return CommandAnswer(upload.initial_comment or "", [upload.filename])
            for post in fake.response_url_posts[seen_posts:]:
                if post.body.get("text") and post.body["text"] != "Working on it…":
                    return CommandAnswer(str(post.body["text"]), [])
            return None

        return await fake.await_for(answered, timeout=20)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def wikipedia() -> Iterator[FakeWikipedia]:
    with FakeWikipedia() as fake:
        yield fake  # type: ignore[misc]


def restore_discord_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put discord.py's endpoints back after the test: it keeps them on classes, and a bot points them at the fake."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )


@contextmanager
def open_fake_discord(monkeypatch: pytest.MonkeyPatch, limits: DiscordLimits | None = None) -> Iterator[FakeDiscord]:
    """The Discord fake (with ``limits``) for a bot to point discord.py at, checked for errors once it is closed."""
    with FakeDiscord(limits=limits) as fake:
        restore_discord_endpoints(monkeypatch)
        yield fake
    assert fake.errors == []


def platform_bot_fixture(
    embedder: Callable[[str, int], list[float]] | None = None, *, manual_clock: bool = False, **settings: Any
) -> Any:
    """A ``bot`` fixture for a test module: a :class:`PlatformBot` started on each of :data:`PLATFORMS`.

    ``settings`` are the module's own, over :attr:`PlatformBot.values`; ``embedder``, when given, makes the
    OpenAI fake's embeddings; ``manual_clock`` gives the container a ManualClock (``bot.clock``) starting at
    the real now.  The module must import the :func:`wikipedia` fixture too.
    """

    @pytest.fixture(params=PLATFORMS)
    async def bot(
        request: pytest.FixtureRequest,
        tmp_path: Path,
        database_url: str,
        openai_fake: FakeOpenAI,
        wikipedia: FakeWikipedia,
        monkeypatch: pytest.MonkeyPatch,
    ) -> AsyncIterator[PlatformBot]:
        """The bot on the platform with its fake, stopped (and the fake checked) afterwards."""
        if embedder is not None:
            openai_fake.embedder = embedder
        platform = request.param
        with ExitStack() as fakes:
            if platform == "discord":
                fake = fakes.enter_context(open_fake_discord(monkeypatch))
                running = PlatformBot(platform, tmp_path, database_url, openai_fake, wikipedia, discord_fake=fake)
            else:
                slack = fakes.enter_context(FakeSlack())
                running = PlatformBot(platform, tmp_path, database_url, openai_fake, wikipedia, slack_fake=slack)
            if manual_clock:
                running.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
            async with stopped_afterwards(running):
                await running.start(**settings)
                yield running

    return bot
