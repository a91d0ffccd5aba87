"""Sign-in and Google end to end, as people see it on Discord and Slack.

The real container (``Container.create``) is built from settings that point
every client at a loopback fake: discord.py at the Discord fake, slack-bolt at
the Slack fake, the openai client at the OpenAI fake and google-auth /
google-api-python-client at the Google fake.  The platform services and the
web server run as ``python -m bot run`` runs them; the test's "browser" (httpx)
follows the links the bot sends.  Assertions are what people read in their DMs
and in the browser.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy import text

from adapters.terminal import TerminalChat
from bot.config import Settings
from bot.container import Container
from bot.runtime import Service
from core.db.database import Database
from tests.e2e.platform_bot import BotRun, open_fake_discord, stopped_afterwards
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
from tests.fakes.slack_server import FakeSlack
from tests.google_helpers import (  # noqa: F401
    SECRET_KEY,
    _google_server,
    answer_approval,
    google_fake,
    open_and_confirm,
)

# Whole bots with three fakes: one database backend keeps this file quick; the
# sign-in and Google pieces run on both in tests/integration/google.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MARKER = "▌"
LINK = re.compile(r"https?://\S+/signin/[\w-]+")
APPROVE = re.compile(r"https?://\S+/signin/approve/[\w-]+")
ADA = "ada@example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plain_echo(request: dict[str, Any]) -> Reply:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            return Reply("You said: " + re.sub(r"^\[[^\]]*\]\s*", "", str(message.get("content"))))
    return Reply("Hello.")


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake  # type: ignore[misc]


class World(BotRun):
    """The fakes, the settings, and a running bot (restartable with other settings)."""

    def __init__(
        self,
        tmp_path: Path,
        database_url: str,
        discord_fake: FakeDiscord,
        slack_fake: FakeSlack,
        openai_fake: FakeOpenAI,
        google: FakeGoogle,
    ) -> None:
        self.discord = discord_fake
        self.slack = slack_fake
        self.openai = openai_fake
        self.google = google
        port = _free_port()
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "openai_api_key": "sk-test",
            "openai_base_url": openai_fake.base_url,
            "openai_max_retries": 0,
            "memory_extraction": False,
            "allowed_accounts": [],
            "allowed_emails": [ADA, "*@team.example.org"],
            "discord_token": discord_fake.bot_token,
            "discord_api_url": discord_fake.api_url,
            "discord_gateway_url": discord_fake.gateway_url,
            "slack_bot_token": slack_fake.bot_token,
            "slack_app_token": slack_fake.app_token,
            "slack_api_url": slack_fake.api_url,
            "web_host": "127.0.0.1",
            "web_port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "secret_key": SECRET_KEY,
            "google_client_id": google.client_id,
            "google_client_secret": google.client_secret,
            "google_auth_url": google.auth_url,
            "google_token_url": google.token_url,
            "google_certs_url": google.certs_url,
            "google_api_url": google.api_url,
            "google_revoke_url": google.revoke_url,
            "google_timeout": 10,
        }
        super().__init__(values)

    def build_services(self, settings: Settings, container: Container) -> list[Service]:
        return [*super().build_services(settings, container), *container.web_services()]

    # -- what people see --------------------------------------------------------------------

    def discord_texts(self, user_id: str) -> list[str]:
        channel = self.discord.dm_channel_id(user_id)
        if channel is None:
            return []
        messages = self.discord.channel_messages(channel)
        return [m["content"] for m in messages if m["author"]["id"] == self.discord.bot_user_id]

    async def discord_reply(self, user_id: str, text: str, *, count: int = 1) -> list[str]:
        """The user DMs the bot on Discord; returns the bot's new, finished messages."""
        before = len(self.discord_texts(user_id))
        self.discord.user_sends_dm(user_id, text)
        return await self.discord_new(user_id, before, count)

    async def discord_new(self, user_id: str, before: int, count: int = 1) -> list[str]:
        def finished(_fake: FakeDiscord) -> list[str] | None:
            new = self.discord_texts(user_id)[before:]
            return new if len(new) >= count and all(MARKER not in t for t in new) else None

        return await self.discord.await_for(finished, 15)

    async def discord_command(self, user_id: str, name: str, options: dict[str, str] | None = None) -> str:
        """A Discord slash command; returns the text of its (private) answer."""
        seen = len(self.discord.interaction_responses)
        self.discord.invoke_command(user_id, name, options or {})

        def answered(fake: FakeDiscord) -> str | None:
            for record in fake.interaction_responses[seen:]:
                payload = record.payload or {}
                content = (payload.get("data") or {}).get("content") or payload.get("content")
                if content and content != "Working on it…":
                    return str(content)
            return None

        return await self.discord.await_for(answered, 15)

    async def slack_reply(self, user_id: str, text: str, *, count: int = 1) -> list[str]:
        channel = self.slack.dm_channel(user_id)
        before = len(self.slack.texts(channel))
        self.slack.user_sends_dm(user_id, text)
        return await self.slack_new(channel, before, count)

    async def slack_new(self, channel: str, before: int, count: int = 1) -> list[str]:
        def finished() -> list[str] | None:
            new = self.slack.texts(channel)[before:]
            return new if len(new) >= count and all(MARKER not in t for t in new) else None

        return await self.slack.await_for(finished, timeout=15)

    async def slack_command(self, user_id: str, command: str, text: str = "") -> str:
        seen = len(self.slack.response_url_posts)
        self.slack.slash_command(user_id, command, text)

        def answered() -> str | None:
            for post in self.slack.response_url_posts[seen:]:
                if post.body.get("text") and post.body["text"] != "Working on it…":
                    return str(post.body["text"])
            return None

        return await self.slack.await_for(answered, timeout=15)

    async def browse(self, link: str, *, choice: str = "link") -> httpx.Response:
        """What a browser does with a link: through Google's (fake) consent, back to the bot, and the
        confirmation page's button ("Link Discord user … to …?")."""
        return await open_and_confirm(link, choice=choice)

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        db = Database(self.values["database_url"])
        try:
            async with db.engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]
        finally:
            await db.dispose()


@pytest.fixture
async def world(
    tmp_path: Path,
    database_url: str,
    fake_discord: FakeDiscord,
    fake_slack: FakeSlack,
    openai_fake: FakeOpenAI,
    google_fake: FakeGoogle,  # noqa: F811
) -> AsyncIterator[World]:
    openai_fake.default = _plain_echo
    async with stopped_afterwards(
        World(tmp_path, database_url, fake_discord, fake_slack, openai_fake, google_fake)
    ) as running:
        yield running


def only_link(texts: list[str]) -> str:
    assert len(texts) == 1, texts
    found = LINK.findall(texts[0])
    assert len(found) == 1, texts[0]
    return found[0].rstrip(").,")


async def sign_in_on_discord(world: World, user_id: str, email: str = ADA) -> list[str]:
    """A stranger DMs, gets one reply with a link, follows it; returns the DMs that came after."""
    link = only_link(await world.discord_reply(user_id, "hello, who are you?"))
    world.google.consent.email = email
    before = len(world.discord_texts(user_id))
    page = await world.browse(link)
    assert page.status_code in (200, 403), page.text
    return await world.discord_new(user_id, before)


# -- the tests ------------------------------------------------------------------------------


async def test_a_stranger_signs_in_and_is_the_same_person_on_slack(world: World) -> None:
    await world.start()
    ada_discord = world.discord.add_user(name="ada")["id"]

    # A stranger's message gets one reply: a link. Nothing is stored, the model never sees it.
    reply = await world.discord_reply(ada_discord, "hello, who are you?")
    link = only_link(reply)
    assert "sign in with google" in reply[0].lower() and "10 minutes" in reply[0]
    assert world.openai.chat_requests() == []
    assert await world.rows("SELECT count(*) FROM messages") == [(0,)]
    assert await world.rows("SELECT count(*) FROM users") == [(0,)]

    page = await world.browse(link)
    assert page.status_code == 200 and ADA in page.text
    [welcome] = await world.discord_new(ada_discord, 1)
    assert welcome.startswith(f"You're in, signed in as {ADA}.")

    [answer] = await world.discord_reply(ada_discord, "good morning")
    assert answer == "You said: good morning"
    said = [str(m.get("content")) for m in world.openai.last_messages() if m.get("role") == "assistant"]
    assert any(s.endswith(welcome) for s in said), "the model knows it welcomed her (the history keeps it)"
    overview = await world.discord_command(ada_discord, "settings")
    assert "Your time zone is UTC" in overview and "I call you Ada." in overview
    assert "Drive folder “CaptainsLog”" in overview
    # Every current value, each with Discord's own syntax (command options are name:value there).
    assert "Change it with /settings timezone:Europe/Paris" in overview
    assert "I close your day at" in overview and "/settings daily_time:22:30" in overview
    assert "Your daily summary comes to" in overview and "answers show no previews" in overview
    assert "Answers come as text only." in overview
    assert "Asia/Tokyo" in await world.discord_command(ada_discord, "settings", {"timezone": "Asia/Tokyo"})
    assert "Ada L." in await world.discord_command(ada_discord, "settings", {"name": "Ada L."})

    # The same email from Slack reaches the same person once her Discord account approves it;
    # the time zone set on Discord is there.
    channel = world.slack.dm_channel("U0ADA")
    slack_link = only_link(await world.slack_reply("U0ADA", "hi"))
    before = len(world.slack.texts(channel))
    discord_before = len(world.discord_texts(ada_discord))
    assert "I asked them to approve" in (await world.browse(slack_link)).text
    [waiting] = await world.slack_new(channel, before)
    assert waiting.startswith("Almost there")
    [ask] = await world.discord_new(ada_discord, discord_before)
    assert "asked to link Slack user" in ask
    approve = APPROVE.search(ask)
    assert approve is not None
    assert (await answer_approval(approve.group(0), "approve")).status_code == 200
    [slack_welcome] = await world.slack_new(channel, before + 1)
    assert slack_welcome.startswith(f"You're in, signed in as {ADA}.")
    overview = await world.slack_command("U0ADA", "/settings")
    assert "Asia/Tokyo" in overview and "I call you Ada L." in overview
    # Slack hands over one line: the leading word says which setting.
    assert await world.slack_command("U0ADA", "/settings", "name Ada Lovelace") == "I'll call you Ada Lovelace."
    [slack_answer] = await world.slack_reply("U0ADA", "still me?")
    assert slack_answer == "You said: still me?"
    assert await world.rows("SELECT email, display_name, timezone FROM users") == [(ADA, "Ada Lovelace", "Asia/Tokyo")]
    system = str(world.openai.last_messages()[0])
    assert "Ada Lovelace" in system and ADA not in system, "the display name reaches the model, not the email"

    # /signout unlinks this Slack account: its next message gets a sign-in link again.
    assert "Signed out" in await world.slack_command("U0ADA", "/signout")
    only_link(await world.slack_reply("U0ADA", "hello?"))
    [discord_still_in] = await world.discord_reply(ada_discord, "and you?")
    assert discord_still_in == "You said: and you?"


async def test_emails_not_on_the_list_are_refused(world: World) -> None:
    await world.start(allowed_emails=[ADA, "bob@example.org"])
    eve = world.discord.add_user(name="eve")["id"]
    [refused] = await sign_in_on_discord(world, eve, "eve@example.org")
    assert refused == "eve@example.org is not allowed to use this assistant. Ask its owner to add you."
    only_link(await world.discord_reply(eve, "let me in"))
    assert await world.rows("SELECT count(*) FROM identities") == [(0,)]

    bob = world.discord.add_user(name="bob")["id"]
    [welcome] = await sign_in_on_discord(world, bob, "bob@example.org")
    assert welcome.startswith("You're in")
    assert await world.discord_reply(bob, "hi") == ["You said: hi"]

    # The owner takes bob off the list and restarts: his next message is refused, with no link.
    await world.stop()
    await world.start(allowed_emails=[ADA])
    [gone] = await world.discord_reply(bob, "hi again")
    assert gone.endswith("Sorry, bob@example.org is not allowed to use this assistant. Ask its owner to add you.")
    assert "/signin/" not in gone
    assert len(world.openai.chat_requests()) == 1


async def test_connect_google_create_an_event_then_a_revoked_token_asks_to_reconnect(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await world.start()
    ada = world.discord.add_user(name="ada")["id"]
    await sign_in_on_discord(world, ada)
    await world.discord_command(ada, "settings", {"timezone": "Europe/Paris"})

    # Not connected yet: the model is not offered the Calendar tools.
    await world.discord_reply(ada, "anything on my calendar?")
    offered = [t["function"]["name"] for t in world.openai.chat_requests()[-1].get("tools", [])]
    assert "create_calendar_event" not in offered

    connect = await world.discord_command(ada, "connect", {"service": "google"})
    link = LINK.search(connect)
    assert link is not None
    before = len(world.discord_texts(ada))
    page = await world.browse(link.group(0))
    assert page.status_code == 200 and "connected" in page.text
    [connected] = await world.discord_new(ada, before)
    assert connected.startswith(f"Google Drive and Calendar are connected ({ADA}).")

    world.openai.queue(
        ToolCalls(
            [
                (
                    "create_calendar_event",
                    {"title": "Lunch with Grace", "start": "2026-11-25T12:30", "end": "2026-11-25T13:30"},
                )
            ]
        ),
        Reply("Booked lunch with Grace tomorrow at 12:30."),
    )
    [answer] = await world.discord_reply(ada, "book lunch with Grace tomorrow 12:30 for an hour")
    assert answer.endswith("Booked lunch with Grace tomorrow at 12:30.")
    offered = [t["function"]["name"] for t in world.openai.chat_requests()[-2].get("tools", [])]
    assert {"list_calendar_events", "find_free_time", "create_calendar_event"} <= set(offered)
    tool_result = next(m for m in world.openai.last_messages() if m.get("role") == "tool")["content"]
    assert "Lunch with Grace" in tool_result and "https://www.google.com/calendar/event?eid=" in tool_result
    [event] = list(world.google.events["primary"].values())
    assert event["start"] == {"dateTime": "2026-11-25T12:30:00+01:00", "timeZone": "Europe/Paris"}

    agenda = await world.discord_command(ada, "calendar", {"day": "2026-11-25"})
    assert "12:30–13:30 Lunch with Grace" in agenda and event["htmlLink"] in agenda

    # The user removes the app's access at Google: the next calendar request asks them to reconnect.
    world.google.revoke_all()
    world.google.access_tokens.clear()
    world.openai.queue(
        ToolCalls([("list_calendar_events", {"start": "2026-11-26", "end": "2026-11-26"})]),
        Reply("I can't reach your calendar right now."),
    )
    before = len(world.discord_texts(ada))
    world.discord.user_sends_dm(ada, "what's on the day after?")
    texts = await world.discord_new(ada, before, count=2)
    reconnect = next(t for t in texts if "Connect again here" in t)
    assert LINK.search(reconnect) is not None
    tool_result = [m for m in world.openai.last_messages() if m.get("role") == "tool"][-1]["content"]
    assert "refused" in tool_result and "DM" in tool_result
    assert "/connect google" in await world.discord_command(ada, "calendar", {"day": "2026-11-25"})

    # The notice is in the conversation's history (the model knows it asked), its single-use link left out.
    await world.discord_reply(ada, "ok, I will connect again")
    said = [str(m.get("content")) for m in world.openai.last_messages() if m.get("role") == "assistant"]
    notice = next(s for s in said if "Connect again here" in s)
    assert LINK.search(notice) is None and "[a link to connect Google again, sent only to the person]" in notice

    # Following the reconnect link connects again.
    before = len(world.discord_texts(ada))
    assert (await world.browse(LINK.search(reconnect).group(0))).status_code == 200  # type: ignore[union-attr]
    [again] = await world.discord_new(ada, before)
    assert again.startswith("Google Drive and Calendar are connected")
    assert "Lunch with Grace" in await world.discord_command(ada, "calendar", {"day": "2026-11-25"})

    # The Drive folder: created by the app, kept by id in the user's settings.
    chosen = await world.discord_command(ada, "settings", {"drive_folder": "Captain's Logs"})
    assert "Files will go to the Drive folder “Captain's Logs”" in chosen
    [folder] = [f for f in world.google.files.values() if f["mimeType"] == "application/vnd.google-apps.folder"]
    assert folder["name"] == "Captain's Logs"
    [(settings,)] = await world.rows("SELECT settings FROM users")
    settings = settings if isinstance(settings, dict) else json.loads(settings)
    assert settings["drive_folder_id"] == folder["id"]
    assert "Drive folder “Captain's Logs”" in await world.discord_command(ada, "settings")

    secrets = [*world.google.refresh_tokens, *world.google.access_tokens, world.google.client_secret, SECRET_KEY]
    [(stored,)] = await world.rows("SELECT refresh_token FROM google_tokens")
    assert all(secret not in str(stored) for secret in secrets)

    assert "disconnected" in await world.discord_command(ada, "disconnect", {"service": "google"})
    assert await world.rows("SELECT count(*) FROM google_tokens") == [(0,)]
    # The test's own browser (httpx) logs the URLs it follows; the bot's log lines carry no secret.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "signed in" in logged or "connected Google" in logged
    assert all(secret not in logged for secret in secrets)
    assert "/signin/" not in logged, "links are credentials while they last"


async def test_slack_http_mode_is_served_by_the_same_web_server(world: World) -> None:
    signing_secret = "test-signing-secret"
    await world.start(slack_mode="http", slack_signing_secret=signing_secret, slack_app_token=None)
    assert world.container is not None
    [web] = world.container.web_services()
    assert web.port == world.values["web_port"]

    body = world.slack.slash_command_body("U0NEW", "/help")
    async with httpx.AsyncClient(timeout=15) as client:
        forged = await client.post(
            f"{web.url}/slack/events", content=body, headers=world.slack.signed_request("wrong-secret", body)
        )
        assert forged.status_code == 401
        signed = await client.post(
            f"{web.url}/slack/events", content=body, headers=world.slack.signed_request(signing_secret, body)
        )
        assert signed.status_code == 200
    # A stranger's command is answered (privately) with a sign-in link, like a message.
    post = await world.slack.await_for(lambda: world.slack.response_url_posts, timeout=15)
    assert post[0].body["response_type"] == "ephemeral" and LINK.search(post[0].body["text"])


async def test_the_terminal_user_signs_in_through_the_same_web_server(world: World, tmp_path: Path) -> None:
    container = await world.start()  # ALLOWED_ACCOUNTS is empty: the terminal needs a sign-in too
    screen = io.StringIO()
    console = Console(file=screen, width=500, color_system=None, highlight=False)
    typed: asyncio.Queue[str | None] = asyncio.Queue()
    terminal = TerminalChat(
        container.chat, user="ada", console=console, files_dir=tmp_path, read_line=typed.get, outbox=container.outbox
    )
    running = asyncio.create_task(terminal.run())

    async def shown(pattern: str) -> re.Match[str]:
        for _ in range(300):
            found = re.search(pattern, screen.getvalue())
            if found:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{pattern!r} never appeared on screen:\n{screen.getvalue()}")

    try:
        await typed.put("hello")
        link = (await shown(LINK.pattern)).group(0)
        assert (await world.browse(link)).status_code == 200
        await shown(f"You're in, signed in as {ADA}")
        await typed.put("good morning")
        await shown("You said: good morning")
    finally:
        await typed.put(None)
        await asyncio.wait_for(running, 15)
    assert await world.rows("SELECT platform, platform_user_id FROM identities") == [("terminal", "ada")]


async def test_a_strangers_forwarded_sign_in_link_does_not_let_them_in(world: World) -> None:
    await world.start()
    ada = world.discord.add_user(name="ada")["id"]
    [welcome] = await sign_in_on_discord(world, ada)
    assert welcome.startswith(f"You're in, signed in as {ADA}.")
    assert await world.discord_reply(ada, "my door code is 4711") == ["You said: my door code is 4711"]
    asked_model = len(world.openai.chat_requests())

    # Eve asks for a link and sends it to Ada, who opens it and clicks through Google's consent.
    eve = world.discord.add_user(name="eve")["id"]
    eve_link = only_link(await world.discord_reply(eve, "hi"))
    ada_before, eve_before = len(world.discord_texts(ada)), len(world.discord_texts(eve))
    async with httpx.AsyncClient(follow_redirects=True, timeout=15) as ada_browser:
        page = await ada_browser.get(eve_link)
    assert page.status_code == 200 and f"Link Discord user Eve ({eve}) to {ADA}?" in page.text
    # Even if Ada confirms, Eve's account waits for one of Ada's accounts to approve it.
    page = await world.browse(eve_link)
    assert page.status_code == 400 and "already used" in page.text, "the stranger's link works once"
    eve_link = only_link(await world.discord_reply(eve, "let me in"))
    eve_before = len(world.discord_texts(eve))
    assert "I asked them to approve" in (await world.browse(eve_link)).text
    [waiting] = await world.discord_new(eve, eve_before)
    assert waiting.startswith("Almost there") and ADA not in waiting
    [ask] = await world.discord_new(ada, ada_before)
    assert f"asked to link Discord user Eve ({eve}) to your account" in ask

    # Meanwhile Eve gets nothing of Ada's: another sign-in link, and the model never sees her words.
    [refused] = await world.discord_reply(eve, "what is my door code?")
    assert "Sign in with Google" in refused and "4711" not in refused
    assert len(world.openai.chat_requests()) == asked_model

    approve = APPROVE.search(ask)
    assert approve is not None
    assert (await answer_approval(approve.group(0), "deny")).status_code == 200
    [told_ada] = await world.discord_new(ada, ada_before + 1)
    assert told_ada == f"Denied: Discord user Eve ({eve}) was not linked to your account ({ADA})."
    [told_eve] = await world.discord_new(eve, eve_before + 2)
    assert "was not linked" in told_eve and ADA not in told_eve
    [still_out] = await world.discord_reply(eve, "and now?")
    assert "Sign in with Google" in still_out
    assert await world.rows("SELECT platform_user_id FROM identities") == [(ada,)]
    assert len(world.openai.chat_requests()) == asked_model
