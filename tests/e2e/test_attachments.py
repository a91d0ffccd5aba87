"""Files users share, end to end: the core's one policy decides, the adapters only download.

Real discord.py and slack-bolt against the fakes.  For Slack a small file host
in this test stands in for files.slack.com and records every request (and its
Authorization header), so the tests see where the bot token went.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from adapters.discord import DiscordService
from adapters.slack import SlackService
from adapters.strangers import StrangerGate
from bot.config import Settings
from bot.platforms import slack_service
from core.attachments import MB
from core.commands import CommandSet
from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import make_chat_service
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import PNG_BYTES, FakeOpenAI
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MARKER = "▌"


class FileHost:
    """A loopback file server that records each request's path and Authorization header."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.url = ""
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> FileHost:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, request.headers.get("Authorization", "")))
        if "slow" in request.path:
            await asyncio.wait_for(self._release.wait(), 30)  # hangs until the test ends
        if "lagging" in request.path:
            await asyncio.sleep(0.3)  # a photo on a slow link
        return web.Response(body=PNG_BYTES, content_type="image/png")


@pytest.fixture
async def file_host() -> AsyncIterator[FileHost]:
    host = await FileHost().start()
    yield host
    await host.stop()


@pytest.fixture
async def other_host() -> AsyncIterator[FileHost]:
    host = await FileHost().start()
    yield host
    await host.stop()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
async def slack_bot(
    slack: FakeSlack, file_host: FileHost, database: Database, model: OpenAIModel
) -> AsyncIterator[SlackService]:
    chat = make_chat_service(database, model, allowed=("slack:*",))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_token=slack.bot_token, slack_app_token=slack.app_token, slack_api_url=slack.api_url
    )
    service = slack_service(
        settings,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        commands=CommandSet(chat, model),
        file_host=file_host.url,
        download_timeout=0.5,
    )
    await service.start()
    yield service
    await service.stop()


def slack_file(name: str, url: str, *, size: int = len(PNG_BYTES), **extra: Any) -> dict[str, Any]:
    """A file object as Slack puts it in a message event."""
    return {
        "id": f"F{abs(hash(name)) % 10**8:08d}",
        "name": name,
        "title": name,
        "mimetype": "image/png",
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "url_private": url,
        "url_private_download": url,
        **extra,
    }


def share_in_dm(slack: FakeSlack, user: str, text: str, files: list[dict[str, Any]]) -> str:
    """The user shares ``files`` in their DM with the bot; returns the DM channel."""
    event = slack.build_dm_event(user, text)
    event.update(subtype="file_share", files=files, upload=False, display_as_bot=False)
    slack.send_envelope("events_api", slack.event_payload(event))
    return slack.dm_channel(user)


async def final_text(slack: FakeSlack, channel: str) -> str:
    def done() -> str | None:
        texts = slack.texts(channel)
        return texts[-1] if texts and MARKER not in texts[-1] else None

    return await slack.await_for(done, timeout=15)


def images_given(openai_fake: FakeOpenAI) -> list[str]:
    return [url for _, urls in openai_fake.images_sent() for url in urls]


async def test_slack_sends_the_token_only_to_its_file_host_and_skips_what_it_cannot_read(
    slack: FakeSlack, slack_bot: SlackService, file_host: FileHost, other_host: FileHost, openai_fake: FakeOpenAI
) -> None:
    channel = share_in_dm(
        slack,
        "U1",
        "what are these?",
        [
            slack_file("ok.png", f"{file_host.url}/files-pri/T1-F1/ok.png"),
            slack_file("elsewhere.png", f"{other_host.url}/files-pri/T1-F2/elsewhere.png"),
            slack_file("remote.png", f"{file_host.url}/remote/remote.png", is_external=True, mode="external"),
            slack_file("huge.png", f"{file_host.url}/files-pri/T1-F4/huge.png", size=30 * MB),
            slack_file("slow.png", f"{file_host.url}/files-pri/T1-F5/slow.png"),
        ],
    )

    text = await final_text(slack, channel)

    assert text.endswith(
        "_huge.png is too large: I read images up to 20 MB._\n"
        "_remote.png is stored outside the chat, so I can't open it._\n"
        "_I couldn't download elsewhere.png and slow.png._"
    )
    assert other_host.requests == [], "the token never goes to another host"
    assert file_host.requests == [
        ("/files-pri/T1-F1/ok.png", f"Bearer {slack.bot_token}"),
        ("/files-pri/T1-F5/slow.png", f"Bearer {slack.bot_token}"),
    ], "external and oversized files are not downloaded"
    assert len(images_given(openai_fake)) == 1


async def test_slack_a_photo_keeps_its_place_in_line_while_it_downloads(
    slack: FakeSlack, slack_bot: SlackService, file_host: FileHost, openai_fake: FakeOpenAI
) -> None:
    channel = share_in_dm(
        slack, "U1", "here is the photo", [slack_file("lagging.png", f"{file_host.url}/files-pri/T1-F1/lagging.png")]
    )
    await asyncio.sleep(0.05)
    slack.user_sends_dm("U1", "and this came right after")

    await slack.await_for(
        lambda: len([t for t in slack.texts(channel) if t.startswith("You said") and MARKER not in t]) == 2 or None,
        timeout=15,
    )
    asked = [str(request["messages"][-1]["content"]) for request in openai_fake.chat_requests()]
    assert "here is the photo" in asked[0] and "and this came right after" in asked[1]
    assert len(images_given(openai_fake)) == 1


async def test_slack_reads_at_most_ten_files_of_a_message(
    slack: FakeSlack, slack_bot: SlackService, file_host: FileHost, openai_fake: FakeOpenAI
) -> None:
    files = [slack_file(f"a{n}.png", f"{file_host.url}/files-pri/T1-F{n}/a{n}.png") for n in range(11)]
    channel = share_in_dm(slack, "U1", "compare these", files)

    text = await final_text(slack, channel)

    assert text.endswith("_I read at most 10 files of one message, so a10.png was left out._")
    assert len(file_host.requests) == 10 and len(images_given(openai_fake)) == 10


# -- Discord ------------------------------------------------------------------------------------


@pytest.fixture
def discord_allowed() -> str:
    return "discord:*"


@pytest.fixture
async def discord_bot(
    monkeypatch: pytest.MonkeyPatch, database: Database, model: OpenAIModel, discord_allowed: str
) -> AsyncIterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        chat = make_chat_service(database, model, allowed=(discord_allowed,))
        service = DiscordService(
            token=fake.bot_token,
            chat=chat,
            gate=StrangerGate(chat.people, clock=chat.clock),
            commands=CommandSet(chat, model),
            api_url=fake.api_url,
            gateway_url=fake.gateway_url,
            guild_ready_timeout=0.1,
        )
        await asyncio.wait_for(service.start(), 10)
        try:
            yield fake
        finally:
            await service.stop()


async def test_discord_downloads_only_what_the_core_reads_within_its_limits(
    discord_bot: FakeDiscord, openai_fake: FakeOpenAI
) -> None:
    fake = discord_bot
    alice = fake.add_user(name="alice")["id"]
    images = [(f"a{n}.png", PNG_BYTES, "image/png") for n in range(10)]
    fake.user_sends_dm(
        alice,
        "look at all of these",
        attachments=[
            ("huge.png", bytes(21 * MB), "image/png"),
            ("voice.ogg", b"OggS", "audio/ogg"),
            ("report.pdf", b"%PDF-1.4", "application/pdf"),
            *images,
        ],
    )
    channel = fake.dm_channel_id(alice)
    assert channel is not None

    def bot_texts(f: FakeDiscord) -> list[str] | None:
        texts = [m["content"] for m in f.channel_messages(channel) if m["author"]["id"] == f.bot_user_id]
        return texts if len(texts) >= 2 and MARKER not in texts[-1] else None

    texts = await fake.await_for(bot_texts, 15)

    assert texts[0] == (
        "-# report.pdf is not supported yet: I can only read images and audio.\n"
        "-# huge.png is too large: I read images up to 20 MB.\n"
        "-# I read at most 10 files of one message, so a9.png was left out."
    )
    assert len(fake.downloads) == 10, "only what is read is downloaded: the recording and nine images"
    assert len(images_given(openai_fake)) == 9


@pytest.mark.parametrize("discord_allowed", ["discord:*:1"])
async def test_discord_never_downloads_a_strangers_files(discord_bot: FakeDiscord, openai_fake: FakeOpenAI) -> None:
    fake = discord_bot
    stranger = fake.add_user(name="mallory")["id"]
    fake.user_sends_dm(stranger, "look", attachments=[("a.png", PNG_BYTES, "image/png")])
    channel = fake.dm_channel_id(stranger)
    assert channel is not None

    def refusal(f: FakeDiscord) -> str | None:
        texts = [m["content"] for m in f.channel_messages(channel) if m["author"]["id"] == f.bot_user_id]
        return texts[-1] if texts and MARKER not in texts[-1] else None

    assert "not on its list" in await fake.await_for(refusal, 10)
    assert fake.downloads == [] and openai_fake.chat_requests() == []
