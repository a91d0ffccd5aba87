"""Outbound messages end to end: a job posts to a person through the Outbox, on Discord and on Slack.

The real DiscordService (discord.py) and SlackService (slack-bolt / slack_sdk)
run against the loopback fakes and register their messengers with an Outbox;
the tests assert what the person sees in their DMs.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from adapters.discord import DiscordService
from adapters.slack import SlackService
from adapters.strangers import StrangerGate
from adapters.terminal import TerminalChat
from bot.config import Settings
from bot.platforms import slack_service
from core.commands import CommandSet
from core.db.database import Database
from core.llm import OpenAIModel
from core.messenger import DeliveryError, Outbox
from core.types import OutgoingFile, PlatformIdentity
from tests.conftest import make_chat_service
from tests.e2e.platform_bot import open_fake_discord
from tests.fakes.discord_server import DiscordLimits, FakeDiscord
from tests.fakes.slack_server import FakeSlack, SlackLimits

# The database plays no part in posting; one backend is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ALICE, BOB = 1, 2
TEAM = "T0001"


class Directory:
    """The AccountDirectory a test needs: user id → platform accounts, most recent first."""

    def __init__(self) -> None:
        self.accounts: dict[int, list[PlatformIdentity]] = {}

    def add(self, user_id: int, account: PlatformIdentity) -> None:
        self.accounts.setdefault(user_id, []).append(account)

    async def accounts_of(self, user_id: int) -> list[PlatformIdentity]:
        return list(self.accounts.get(user_id, []))


def paragraphs(count: int, words: int = 60) -> str:
    """A long plain text (nothing Slack escapes, no Markdown) of ``count`` paragraphs."""
    return "\n\n".join(" ".join(f"p{p}w{n}" for n in range(words)) for p in range(count))


def pdf(name: str = "log.pdf") -> OutgoingFile:
    return OutgoingFile(name, "application/pdf", b"%PDF-1.4 the day in one file", description="Your day")


# -- Discord ------------------------------------------------------------------------------------


@pytest.fixture
def discord_limits() -> DiscordLimits | None:
    return None


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch, discord_limits: DiscordLimits | None) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch, discord_limits) as fake:
        yield fake


@pytest.fixture
async def discord_outbox(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel
) -> AsyncIterator[tuple[Outbox, Directory, DiscordService]]:
    directory = Directory()
    outbox = Outbox(directory)
    chat = make_chat_service(database, model, allowed=("discord:*",))
    service = DiscordService(
        token=fake_discord.bot_token,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        commands=CommandSet(chat, model),
        api_url=fake_discord.api_url,
        gateway_url=fake_discord.gateway_url,
        guild_ready_timeout=0.1,
        outbox=outbox,
    )
    assert outbox.platforms == ()
    await asyncio.wait_for(service.start(), 10)
    yield outbox, directory, service
    await service.stop()
    assert outbox.platforms == (), "a stopped platform is no longer offered"


def discord_account(fake: FakeDiscord, name: str) -> PlatformIdentity:
    return PlatformIdentity("discord", "global", fake.add_user(name=name)["id"], display_name=name)


def bot_messages(fake: FakeDiscord, channel_id: str) -> list[dict[str, Any]]:
    return [m for m in fake.channel_messages(channel_id) if m["author"]["id"] == fake.bot_user_id]


async def test_a_job_dms_a_discord_user_who_never_wrote_to_the_bot(
    fake_discord: FakeDiscord, discord_outbox: tuple[Outbox, Directory, DiscordService]
) -> None:
    outbox, directory, _ = discord_outbox
    alice = discord_account(fake_discord, "alice")
    directory.add(ALICE, alice)
    assert outbox.platforms == ("discord",)

    delivery = await outbox.send_to_user(ALICE, "Your **daily log** is ready.", [pdf()])

    channel = fake_discord.dm_channel_id(alice.user_id)
    assert channel is not None and delivery.conversation.channel == channel
    messages = bot_messages(fake_discord, channel)
    assert [m["content"] for m in messages][0] == "Your **daily log** is ready."
    assert delivery.platform == "discord" and delivery.message_ids == (messages[0]["id"],)
    [upload] = fake_discord.uploads
    assert (upload.filename, upload.data, upload.channel_id) == ("log.pdf", pdf().data, channel)
    routes = [e.route for e in fake_discord.log]
    assert "users.get" in routes and "dm.open" in routes, "the DM was opened through Discord's API"


async def test_a_long_discord_post_is_split_at_the_limit_with_nothing_lost(
    fake_discord: FakeDiscord, discord_outbox: tuple[Outbox, Directory, DiscordService]
) -> None:
    outbox, directory, _ = discord_outbox
    alice = discord_account(fake_discord, "alice")
    directory.add(ALICE, alice)
    text = paragraphs(14)
    assert len(text) > 5000

    delivery = await outbox.send_to_user(ALICE, text)

    channel = fake_discord.dm_channel_id(alice.user_id)
    assert channel is not None
    parts = [m["content"] for m in bot_messages(fake_discord, channel)]
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    assert "".join(parts) == text
    assert len(delivery.message_ids) == len(parts)


async def test_a_closed_discord_dm_is_a_delivery_error_and_is_not_retried(
    fake_discord: FakeDiscord, discord_outbox: tuple[Outbox, Directory, DiscordService]
) -> None:
    outbox, directory, _ = discord_outbox
    bob = discord_account(fake_discord, "bob")
    directory.add(BOB, bob)
    fake_discord.close_dms(bob.user_id)

    with pytest.raises(DeliveryError) as refused:
        await outbox.send_to_user(BOB, "Your daily log is ready.")

    assert "does not accept direct messages" in refused.value.reason and "50007" in refused.value.reason
    assert not refused.value.retryable
    sends = [e for e in fake_discord.log if e.route == "messages.create"]
    assert [e.status for e in sends] == [403], "a closed DM is asked once"

    ghost = PlatformIdentity("discord", "global", "4242")
    with pytest.raises(DeliveryError, match="Discord knows no user 4242"):
        await outbox.send_to_account(ghost, "hello")


@pytest.mark.parametrize("discord_limits", [DiscordLimits(channel_send=(2, 1.5), global_per_second=3)])
async def test_discord_posts_stricter_than_documented_limits_lose_and_repeat_nothing(
    fake_discord: FakeDiscord, discord_outbox: tuple[Outbox, Directory, DiscordService]
) -> None:
    outbox, directory, _ = discord_outbox
    alice = discord_account(fake_discord, "alice")
    directory.add(ALICE, alice)
    texts = [f"note {n}: " + " ".join(f"n{n}w{i}" for i in range(20)) for n in range(5)]
    long_text = paragraphs(9)

    # Several jobs at once to the same person: more sends than the fake's small bursts allow.
    deliveries = await asyncio.gather(
        outbox.send_to_user(ALICE, long_text), *(outbox.send_to_user(ALICE, t) for t in texts)
    )

    channel = fake_discord.dm_channel_id(alice.user_id)
    assert channel is not None
    posted = {m["id"]: m["content"] for m in bot_messages(fake_discord, channel)}
    long_parts = [posted[i] for i in deliveries[0].message_ids]
    assert "".join(long_parts) == long_text
    for delivery, text in zip(deliveries[1:], texts, strict=True):
        assert [posted[i] for i in delivery.message_ids] == [text]
    assert len(posted) == len(long_parts) + len(texts), "nothing posted twice"
    assert any(e.route == "messages.create" for e in fake_discord.rate_limited), "the fake did refuse sends"


# -- Slack --------------------------------------------------------------------------------------


@pytest.fixture
def slack_limits() -> SlackLimits | None:
    return None


@pytest.fixture
def slack(slack_limits: SlackLimits | None) -> Iterator[FakeSlack]:
    with FakeSlack(limits=slack_limits) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
async def slack_outbox(
    slack: FakeSlack, database: Database, model: OpenAIModel
) -> AsyncIterator[tuple[Outbox, Directory, SlackService]]:
    directory = Directory()
    outbox = Outbox(directory)
    chat = make_chat_service(database, model, allowed=("slack:*",))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_token=slack.bot_token, slack_app_token=slack.app_token, slack_api_url=slack.api_url
    )
    service = slack_service(
        settings,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        commands=CommandSet(chat, model),
        outbox=outbox,
        file_host=slack.url,
    )
    await service.start()
    yield outbox, directory, service
    await service.stop()
    assert outbox.platforms == ()


async def test_a_job_dms_a_slack_member_in_mrkdwn_with_a_file(
    slack: FakeSlack, slack_outbox: tuple[Outbox, Directory, SlackService]
) -> None:
    outbox, directory, _ = slack_outbox
    directory.add(ALICE, PlatformIdentity("slack", TEAM, "U1"))

    delivery = await outbox.send_to_user(ALICE, "Your **daily log** is ready: <see below> & enjoy", [pdf()])

    channel = slack.dm_channel("U1")
    assert [e.channel for e in slack.calls("conversations.open")] == [channel]
    assert slack.texts(channel)[0] == "Your *daily log* is ready: &lt;see below&gt; &amp; enjoy"
    assert delivery.conversation.channel == channel and len(delivery.message_ids) == 1
    [upload] = slack.uploads
    assert (upload.filename, upload.content, upload.channel) == ("log.pdf", pdf().data, channel)

    await outbox.send_to_user(ALICE, "And a second note.")
    assert len(slack.calls("conversations.open")) == 1, "the DM channel is remembered"
    assert slack.texts(channel)[-1] == "And a second note."


async def test_a_long_slack_post_is_split_like_an_answer(
    slack: FakeSlack, slack_outbox: tuple[Outbox, Directory, SlackService]
) -> None:
    outbox, directory, _ = slack_outbox
    directory.add(ALICE, PlatformIdentity("slack", TEAM, "U1"))
    text = paragraphs(24)
    assert len(text) > 8000

    delivery = await outbox.send_to_user(ALICE, text)

    parts = slack.texts(slack.dm_channel("U1"))
    assert len(parts) >= 3 and all(len(p) <= 4000 for p in parts)
    assert "".join(parts) == text
    assert len(delivery.message_ids) == len(parts)


async def test_an_unknown_slack_member_is_a_delivery_error(
    slack: FakeSlack, slack_outbox: tuple[Outbox, Directory, SlackService]
) -> None:
    outbox, directory, _ = slack_outbox
    directory.add(BOB, PlatformIdentity("slack", TEAM, ""))
    with pytest.raises(DeliveryError) as refused:
        await outbox.send_to_user(BOB, "hello")
    assert "not a Slack account" in refused.value.reason


# Tighter than Slack's documented limits (and than the windows the bot keeps to): one post
# per 1.4 s in a channel, one DM opened and one file uploaded per 1.5 s in the workspace.
STRICT_SLACK = SlackLimits(post_per_second_per_channel=0.7, open_per_minute=1, upload_per_minute=1, minute=1.5)


@pytest.mark.parametrize("slack_limits", [STRICT_SLACK])
async def test_slack_posts_under_stricter_than_documented_limits_lose_and_repeat_nothing(
    slack: FakeSlack, slack_outbox: tuple[Outbox, Directory, SlackService]
) -> None:
    outbox, directory, _ = slack_outbox
    directory.add(ALICE, PlatformIdentity("slack", TEAM, "U1"))
    directory.add(BOB, PlatformIdentity("slack", TEAM, "U2"))
    texts = [f"note {n}" for n in range(3)]
    long_text = paragraphs(12)

    deliveries = await asyncio.gather(
        outbox.send_to_user(ALICE, long_text),
        *(outbox.send_to_user(ALICE, t) for t in texts),
        outbox.send_to_user(BOB, "your log", [pdf("bob.pdf")]),
        outbox.send_to_user(ALICE, "your log", [pdf("alice.pdf")]),
        outbox.send_to_user(ALICE, "", [pdf("one.pdf")]),  # files alone, both at once
        outbox.send_to_user(ALICE, "", [pdf("two.pdf")]),
    )

    channel = slack.dm_channel("U1")
    posted = {m.ts: m.text for m in slack.channel_messages(channel) if m.is_bot and not m.files}
    assert "".join(posted[ts] for ts in deliveries[0].message_ids) == long_text
    for delivery, text in zip(deliveries[1:4], texts, strict=True):
        assert [posted[ts] for ts in delivery.message_ids] == [text]
    assert [posted[ts] for ts in deliveries[5].message_ids] == ["your log"]
    assert len(posted) == sum(len(d.message_ids) for d in deliveries if d.conversation.channel == channel)
    assert slack.texts(slack.dm_channel("U2")) == ["your log", ""], "Bob's text, then his file"
    assert sorted((u.filename, u.channel) for u in slack.uploads) == [
        ("alice.pdf", channel),
        ("bob.pdf", slack.dm_channel("U2")),
        ("one.pdf", channel),
        ("two.pdf", channel),
    ], "each file once"
    refused = {e.method for e in slack.rate_limited}
    assert {"chat.postMessage", "conversations.open", "files.getUploadURLExternal"} <= refused, refused


# -- both ---------------------------------------------------------------------------------------


async def test_a_person_is_reached_on_the_platform_asked_for_and_on_the_other_when_it_refuses(
    fake_discord: FakeDiscord,
    discord_outbox: tuple[Outbox, Directory, DiscordService],
    slack: FakeSlack,
    database: Database,
    model: OpenAIModel,
) -> None:
    outbox, directory, _ = discord_outbox
    chat = make_chat_service(database, model, allowed=("slack:*", "discord:*"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_token=slack.bot_token, slack_app_token=slack.app_token, slack_api_url=slack.api_url
    )
    service = slack_service(
        settings,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        commands=CommandSet(chat, model),
        outbox=outbox,
        file_host=slack.url,
    )
    await service.start()
    try:
        alice = discord_account(fake_discord, "alice")
        directory.add(ALICE, alice)
        directory.add(ALICE, PlatformIdentity("slack", TEAM, "U1"))
        assert set(outbox.platforms) == {"discord", "slack"}

        on_slack = await outbox.send_to_user(ALICE, "on Slack, as asked", prefer_platform="slack")
        assert on_slack.platform == "slack" and slack.texts(slack.dm_channel("U1")) == ["on Slack, as asked"]

        fake_discord.close_dms(alice.user_id)
        fallback = await outbox.send_to_user(ALICE, "Discord refused, so Slack")
        assert fallback.platform == "slack"
        assert slack.texts(slack.dm_channel("U1"))[-1] == "Discord refused, so Slack"
    finally:
        await service.stop()


# -- terminal -----------------------------------------------------------------------------------


async def test_a_post_to_the_terminal_user_is_printed_and_its_file_kept_in_the_files_folder(
    database: Database, model: OpenAIModel, tmp_path: Path
) -> None:
    directory = Directory()
    outbox = Outbox(directory)
    directory.add(ALICE, PlatformIdentity("terminal", "local", "me"))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    files = tmp_path / "files"
    sneaky = OutgoingFile("../../escaped.pdf", "application/pdf", b"%PDF-1.4 day")

    async def job_while_the_user_is_at_the_prompt() -> str | None:
        assert outbox.platforms == ("terminal",)
        await outbox.send_to_user(ALICE, "Your daily log is ready.", [sneaky])
        with pytest.raises(DeliveryError):
            await outbox.send_to_account(PlatformIdentity("terminal", "local", "someone-else"), "hello")
        return None  # then the user leaves (end of input)

    chat = make_chat_service(database, model)
    await TerminalChat(
        chat,
        user="me",
        console=console,
        files_dir=files,
        read_line=job_while_the_user_is_at_the_prompt,
        outbox=outbox,
        transcript=True,  # as a person at a terminal sees it
    ).run()

    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "assistant › Your daily log is ready." in shown
    assert (files / "escaped.pdf").read_bytes() == sneaky.data
    assert not (tmp_path / "escaped.pdf").exists(), "a file name cannot leave the files folder"
    assert f"file saved: {files / 'escaped.pdf'}" in shown
    assert outbox.platforms == ()
