"""Slack's HTTP mode on the bot's one web server (bot/web.py), end to end.

Real uvicorn + FastAPI + slack-bolt's FastAPI adapter, the real SlackService
against the Slack fake, real core and database; requests are sent the way Slack
(or someone pretending to be Slack) sends them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from pydantic import ValidationError
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.errors import PlatformStartError
from adapters.slack import SlackService
from adapters.slack.http import SlackHttpEndpoint
from adapters.strangers import StrangerGate
from bot.platforms import slack_service
from bot.web import WebServer, create_app, mount_slack
from core.chat import ChatService
from core.commands import CommandSet
from core.db.database import Database
from core.llm import OpenAIModel
from tests.e2e.test_slack import final_texts, plain_echo, settings_for, slack_chat, sqlite_only
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

SECRET = "test-signing-secret"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _plain_echo(openai_fake: FakeOpenAI) -> None:
    openai_fake.default = plain_echo


@dataclass
class Served:
    service: SlackService
    web: WebServer
    http: httpx.AsyncClient

    @property
    def url(self) -> str:
        return f"{self.web.url}/slack/events"

    async def post(self, body: str | bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(self.url, content=body, headers=headers)


@asynccontextmanager
async def served(chat: ChatService, model: OpenAIModel, fake: FakeSlack, **limits: float) -> AsyncIterator[Served]:
    """The Slack service in HTTP mode, mounted on the bot's web server (one server, port chosen freely)."""
    settings = settings_for(fake, slack_mode="http", slack_signing_secret=SECRET, slack_app_token=None)
    service = slack_service(
        settings,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        commands=CommandSet(chat, model),
        serve_http=False,
    )
    app = create_app(signin=None)
    mount_slack(app, SlackHttpEndpoint(service.app, **limits) if limits else service.endpoint)
    web = WebServer(app, host="127.0.0.1", port=0)
    await service.start()
    await web.start()
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            yield Served(service, web, http)
    finally:
        await web.stop()
        await service.stop()


@sqlite_only
async def test_signed_requests_are_answered_and_the_rest_refused_without_a_500_or_a_logged_body(
    database: Database,
    model: OpenAIModel,
    openai_fake: FakeOpenAI,
    slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with served(slack_chat(database, model), model, slack) as bot:
        body = slack.event_body(user_id="U1", text="over http")
        assert (await bot.post(body, slack.signed_request(SECRET, body))).status_code == 200
        assert await final_texts(slack, slack.dm_channel("U1")) == ["You said: over http"]

        forged = slack.event_body(user_id="U2", text="FORGED-" + "x" * 2000)
        assert (await bot.post(forged, {"Content-Type": "application/json"})).status_code == 401
        assert (await bot.post(forged, slack.signed_request("wrong-secret", forged))).status_code == 401
        stale = slack.signed_request(SECRET, forged, timestamp=int(time.time()) - 6 * 60)
        assert (await bot.post(forged, stale)).status_code == 401
        odd = {**slack.signed_request(SECRET, forged), "X-Slack-Request-Timestamp": "soon"}
        assert (await bot.post(forged, odd)).status_code == 401

        huge = json.dumps({"type": "event_callback", "padding": "x" * (1024 * 1024)})
        assert (await bot.post(huge, slack.signed_request(SECRET, huge))).status_code == 413
        await asyncio.sleep(0.3)
    assert slack.texts(slack.dm_channel("U2")) == []
    assert len(openai_fake.chat_requests()) == 1
    assert "FORGED" not in caplog.text, "a forged body is never written to the log"
    assert "Traceback" not in caplog.text


@sqlite_only
async def test_a_replayed_command_and_slacks_retries_run_once(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    async with served(slack_chat(database, model), model, slack) as bot:
        command = slack.slash_command_body("U1", "/help")
        captured = slack.signed_request(SECRET, command)
        assert (await bot.post(command, captured)).status_code == 200
        await slack.await_for(lambda: slack.response_url_posts)
        assert (await bot.post(command, captured)).status_code == 200, "the replay is acknowledged..."

        event = slack.event_body(user_id="U1", text="just once")
        assert (await bot.post(event, slack.signed_request(SECRET, event))).status_code == 200
        await final_texts(slack, slack.dm_channel("U1"))
        retry = {**slack.signed_request(SECRET, event), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"}
        assert (await bot.post(event, retry)).status_code == 200
        await asyncio.sleep(0.3)
    assert len(slack.response_url_posts) == 1, "...and not run again"
    assert slack.texts(slack.dm_channel("U1")) == ["You said: just once"]
    assert len(openai_fake.chat_requests()) == 1


@sqlite_only
async def test_a_half_sent_body_is_cut(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    async with served(slack_chat(database, model), model, slack, read_timeout=0.5) as bot:
        reader, writer = await asyncio.open_connection("127.0.0.1", bot.web.port)
        headers = slack.signed_request(SECRET, "{}")
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n{head}\r\n{{".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
        writer.close()
    assert status_line.split()[1] == b"408"


def test_an_empty_signing_secret_is_refused_at_start(slack: FakeSlack) -> None:
    with pytest.raises(ValidationError, match="SLACK_SIGNING_SECRET is empty"):
        settings_for(slack, slack_mode="http", slack_signing_secret="  ", slack_app_token=None)
    socket_mode = settings_for(slack, slack_signing_secret="")  # unused in Socket Mode, as if unset
    assert socket_mode.slack_signing_secret is None

    bolt = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret="")
    with pytest.raises(PlatformStartError, match="SLACK_SIGNING_SECRET is empty"):
        mount_slack(create_app(signin=None), bolt)
