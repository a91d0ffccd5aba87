"""The Discord fake, exercised through the real discord.py client (and raw aiohttp where needed)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands

from tests.fakes.discord_server import DiscordLimits, FakeDiscord

StartBot = Callable[..., Awaitable[discord.Client]]


def bot_intents(message_content: bool = True) -> discord.Intents:
    """Default intents plus (optionally) the privileged message-content intent."""
    intents = discord.Intents.default()
    intents.message_content = message_content
    return intents


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeDiscord]:
    """A started fake; parametrize indirectly with a ``DiscordLimits`` to change its limits."""
    with FakeDiscord(limits=getattr(request, "param", None)) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def discord_at_fake(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    """Point discord.py's REST base and gateway at the fake (restored after the test)."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_url)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    return fake


@pytest.fixture
async def start_bot(discord_at_fake: FakeDiscord) -> AsyncIterator[StartBot]:
    """Factory: start a ``discord.Client`` against the fake and return it once ``on_ready`` fired."""
    running: list[tuple[discord.Client, asyncio.Task[None]]] = []

    async def start(client: discord.Client | None = None) -> discord.Client:
        client = client or new_client()
        task = asyncio.create_task(client.start(discord_at_fake.bot_token))
        running.append((client, task))
        deadline = asyncio.get_running_loop().time() + 10
        while not client.is_ready():
            if task.done():
                task.result()  # surfaces the login/connect error
            assert asyncio.get_running_loop().time() < deadline, "on_ready never fired"
            await asyncio.sleep(0.01)
        return client

    yield start
    for client, task in running:
        await client.close()
        with suppress(Exception):
            await asyncio.wait_for(task, 5)


def new_client(intents: discord.Intents | None = None) -> discord.Client:
    """A client as the bot would build it, with a short ``guild_ready_timeout`` for tests."""
    return discord.Client(intents=intents or bot_intents(), guild_ready_timeout=0.1)


# --------------------------------------------------------------------------- #
async def test_login_ready_guild_cache_and_restart(fake: FakeDiscord, start_bot: StartBot) -> None:
    guild = fake.add_guild("Home")
    ready_seen = asyncio.Event()
    client = new_client()

    @client.event
    async def on_ready() -> None:
        ready_seen.set()

    await start_bot(client)
    assert ready_seen.is_set()
    assert client.user is not None and client.user.id == int(fake.bot_user_id) and client.user.bot
    assert client.application_id == int(fake.application_id)
    cached = client.get_guild(int(guild["id"]))
    assert cached is not None and [c.name for c in cached.text_channels] == ["general"]
    assert cached.me is not None
    assert fake.connected_sessions() == 1
    [connection] = fake.gateway_connections
    assert connection.query["v"] == "10" and connection.query["encoding"] == "json"
    assert connection.compress == connection.query["compress"] == "zlib-stream"
    assert connection.intents == bot_intents().value and connection.ops[1] >= 1
    paths = [(e.method, e.path) for e in fake.log]
    assert ("GET", "/users/@me") in paths and ("GET", "/oauth2/applications/@me") in paths

    # A guild added while connected arrives as GUILD_CREATE.
    joined = client.wait_for("guild_join", timeout=5)
    second = fake.add_guild("Work")
    assert (await joined).id == int(second["id"])

    # The bot is killed and restarted: a fresh client identifies again.
    await client.close()
    await fake.await_for(lambda f: f.connected_sessions() == 0)
    again = await start_bot(new_client())
    assert again.get_guild(int(guild["id"])) is not None
    assert await fake.await_connected() == 1


async def test_dm_with_attachment_arrives_as_on_message(fake: FakeDiscord, start_bot: StartBot) -> None:
    client = await start_bot()
    alice = fake.add_user(name="alice")
    sent = fake.user_sends_dm(alice["id"], "hello bot", [("notes.txt", b"remember this", "text/plain")])

    message: discord.Message = await client.wait_for("message", timeout=5)
    assert message.id == int(sent["id"])
    assert message.content == "hello bot"
    assert isinstance(message.channel, discord.DMChannel)
    assert message.guild is None
    assert message.author.id == int(alice["id"])
    assert message.channel.id == int(fake.dm_channel_id(alice["id"]) or 0)
    [attachment] = message.attachments
    assert (attachment.filename, attachment.size, attachment.content_type) == ("notes.txt", 13, "text/plain")
    assert await attachment.read() == b"remember this"


async def test_reply_typing_and_edit_reach_the_channel(fake: FakeDiscord, start_bot: StartBot) -> None:
    client = await start_bot()
    alice = fake.add_user(name="alice")
    fake.user_sends_dm(alice["id"], "question?")
    incoming: discord.Message = await client.wait_for("message", timeout=5)

    # Discord echoes the bot's own messages back over the gateway.
    echo = client.wait_for("message", check=lambda m: m.author == client.user, timeout=5)
    async with incoming.channel.typing():
        reply = await incoming.reply("thinking…")
    assert (await echo).id == reply.id
    edited = await reply.edit(content="final answer")
    assert edited.edited_at is not None

    dm_id = fake.dm_channel_id(alice["id"])
    assert dm_id is not None
    messages = fake.channel_messages(dm_id)
    assert [m["content"] for m in messages] == ["question?", "final answer"]
    bot_message = messages[-1]
    assert bot_message["author"]["id"] == fake.bot_user_id and bot_message["author"]["bot"] is True
    assert bot_message["type"] == 19 and bot_message["message_reference"]["message_id"] == str(incoming.id)
    assert bot_message["edited_timestamp"] is not None
    assert [t.channel_id for t in fake.typing_events] == [dm_id]
    assert [e.content for e in fake.log if e.route == "messages.edit"] == ["final answer"]


async def test_too_long_and_empty_messages_are_refused(fake: FakeDiscord, start_bot: StartBot) -> None:
    client = await start_bot()
    alice = fake.add_user()
    fake.user_sends_dm(alice["id"], "hi")
    incoming: discord.Message = await client.wait_for("message", timeout=5)

    with pytest.raises(discord.HTTPException) as too_long:
        await incoming.channel.send("x" * 2001)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)
    assert "2000 or fewer" in too_long.value.text
    with pytest.raises(discord.HTTPException) as empty:
        await incoming.channel.send()
    assert (empty.value.status, empty.value.code) == (400, 50006)
    await incoming.channel.send("x" * 2000)
    assert len(fake.channel_messages(str(incoming.channel.id))) == 2


@pytest.mark.parametrize("fake", [DiscordLimits(channel_send=(5, 1.0))], indirect=True)
async def test_discord_py_honours_the_send_bucket(fake: FakeDiscord, start_bot: StartBot) -> None:
    client = await start_bot()
    alice = fake.add_user()
    fake.user_sends_dm(alice["id"], "spam me")
    incoming: discord.Message = await client.wait_for("message", timeout=5)

    await asyncio.gather(*(incoming.channel.send(f"part {i}") for i in range(7)))

    assert fake.rate_limited == []
    sends = [e for e in fake.log if e.route == "messages.create"]
    assert [e.status for e in sends] == [200] * 7
    # discord.py saw Remaining: 0 on the 5th answer and held the 6th until the window reset.
    assert sends[5].t - sends[0].t >= 0.99
    assert sends[4].t - sends[0].t < 0.9
    assert len({e.bucket for e in sends}) == 1


async def test_raw_burst_hits_the_global_limit(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.bot_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_url}/users/@me") as unauthorized:
            assert unauthorized.status == 401
            assert unauthorized.headers["Content-Type"] == "application/json"
            assert await unauthorized.json() == {"message": "401: Unauthorized", "code": 0}

        async def hit() -> tuple[int, dict[str, str], bytes]:
            async with session.get(f"{fake.api_url}/users/@me", headers=auth) as resp:
                return resp.status, dict(resp.headers), await resp.read()

        results = await asyncio.gather(*(hit() for _ in range(60)))

    limited = [r for r in results if r[0] == 429]
    assert limited and sum(1 for r in results if r[0] == 200) <= 50
    status, headers, body = limited[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["Via"] == "1.1 google"
    assert headers["X-RateLimit-Global"] == "true"
    payload = json.loads(body)
    assert payload["global"] is True and payload["message"] == "You are being rate limited."
    assert 0 < payload["retry_after"] <= 1.0
    assert all(e.scope == "global" for e in fake.rate_limited) and len(fake.rate_limited) == len(limited)


async def test_bucket_headers_and_user_scoped_429(fake: FakeDiscord) -> None:
    alice = fake.add_user()
    channel = fake.user_sends_dm(alice["id"], "hi")["channel_id"]
    auth = {"Authorization": f"Bot {fake.bot_token}", "Content-Type": "application/json"}
    url = f"{fake.api_url}/channels/{channel}/messages"
    async with aiohttp.ClientSession() as session:
        remaining = []
        for i in range(6):
            async with session.post(url, headers=auth, data=json.dumps({"content": f"m{i}"})) as resp:
                remaining.append(resp.headers.get("X-RateLimit-Remaining"))
                last = resp
                body = await resp.json(content_type=None)
    assert remaining == ["4", "3", "2", "1", "0", "0"]
    assert last.status == 429 and last.headers["X-RateLimit-Scope"] == "user" and last.headers["Via"]
    assert body["global"] is False and 0 < body["retry_after"] <= 5.0
    assert last.headers["X-RateLimit-Bucket"] == FakeDiscord.bucket_hash("send")
    assert [e.content for e in fake.rate_limited] == ["m5"]
    assert len(fake.channel_messages(channel)) == 6  # the user's message and five of the bot's


async def test_edits_and_deletes_arrive_as_raw_events(fake: FakeDiscord, start_bot: StartBot) -> None:
    client = await start_bot()
    alice = fake.add_user()
    sent = fake.user_sends_dm(alice["id"], "first draft")
    await client.wait_for("message", timeout=5)

    fake.user_edits(sent["id"], "second draft")
    edit: discord.RawMessageUpdateEvent = await client.wait_for("raw_message_edit", timeout=5)
    assert edit.message_id == int(sent["id"]) and edit.data["content"] == "second draft"
    assert edit.message.content == "second draft" and edit.message.edited_at is not None
    assert fake.message(sent["id"])["content"] == "second draft"  # type: ignore[index]

    fake.user_deletes(sent["id"])
    deleted: discord.RawMessageDeleteEvent = await client.wait_for("raw_message_delete", timeout=5)
    assert deleted.message_id == int(sent["id"]) and deleted.guild_id is None
    assert fake.message(sent["id"]) is None and fake.channel_messages(str(deleted.channel_id)) == []


async def test_slash_command_sync_defer_and_followup_with_file(fake: FakeDiscord, start_bot: StartBot) -> None:
    guild = fake.add_guild("Home")
    client = new_client()
    tree = app_commands.CommandTree(client)
    handled: asyncio.Queue[discord.Interaction] = asyncio.Queue()
    callbacks: list[discord.InteractionCallbackResponse] = []

    @tree.command(name="summarize", description="Summarize a topic")
    async def summarize(interaction: discord.Interaction, topic: str, depth: int = 1) -> None:
        if interaction.guild is not None:
            await interaction.response.send_message(f"quick {topic}")
        else:
            callback = await interaction.response.defer()
            assert callback is not None
            callbacks.append(callback)
            await interaction.followup.send(
                f"summary of {topic} x{depth}", file=discord.File(io.BytesIO(b"# notes"), filename="notes.md")
            )
        await handled.put(interaction)

    await start_bot(client)
    synced = await tree.sync()
    assert [c.name for c in synced] == ["summarize"]
    [registered] = fake.registered_commands["global"]
    assert registered["name"] == "summarize" and [o["name"] for o in registered["options"]] == ["topic", "depth"]
    assert any(e.method == "PUT" and e.path == f"/applications/{fake.application_id}/commands" for e in fake.log)

    alice = fake.add_user(name="alice")
    with pytest.raises(LookupError):
        fake.invoke_command(alice["id"], "unknown")
    sent = fake.invoke_command(alice["id"], "summarize", {"topic": "cats", "depth": 2})
    interaction = await asyncio.wait_for(handled.get(), 5)
    assert interaction.id == int(sent["id"]) and interaction.user.id == int(alice["id"])
    assert isinstance(interaction.channel, discord.DMChannel)

    callback_record, followup = fake.interaction_responses
    assert (callback_record.kind, callback_record.callback_type, callback_record.status) == ("callback", 5, 200)
    assert callbacks[0].is_thinking() and callbacks[0].message_id is not None
    assert (followup.kind, followup.status) == ("followup", 200)
    assert [(u.filename, u.data) for u in followup.files] == [("notes.md", b"# notes")]
    assert [(u.filename, u.content_type) for u in fake.uploads] == [("notes.md", "text/markdown")]

    # The first follow-up after a defer replaces the loading message.
    [answer] = fake.channel_messages(fake.dm_channel_id(alice["id"]) or "")
    assert answer["id"] == str(callbacks[0].message_id) == followup.message_id
    assert answer["content"] == "summary of cats x2" and answer["flags"] & 128 == 0
    assert [a["filename"] for a in answer["attachments"]] == ["notes.md"]
    assert fake.interaction(sent["id"])["acked"] is True  # type: ignore[index]

    # In a guild channel the interaction carries a member and answers directly.
    channel_id = guild["channels"][0]["id"]
    fake.invoke_command(alice["id"], "summarize", {"topic": "dogs"}, channel_id=channel_id)
    in_guild = await asyncio.wait_for(handled.get(), 5)
    assert isinstance(in_guild.user, discord.Member) and in_guild.guild_id == int(guild["id"])
    assert fake.channel_messages(channel_id)[-1]["content"] == "quick dogs"


async def test_thread_from_a_mentioning_message(fake: FakeDiscord, start_bot: StartBot) -> None:
    guild = fake.add_guild("Home")
    channel_id = guild["channels"][0]["id"]
    client = await start_bot()
    bob = fake.add_user(name="bob")

    fake.user_sends_in_channel(channel_id, bob["id"], "help me plan", mention_bot=True)
    message: discord.Message = await client.wait_for("message", timeout=5)
    assert client.user in message.mentions and message.content.endswith("help me plan")
    assert isinstance(message.author, discord.Member)

    created = client.wait_for("thread_create", timeout=5)
    thread = await message.create_thread(name="Planning")
    await thread.send("on it")
    assert (await created).id == thread.id == message.id

    stored = fake.channel(str(thread.id))
    assert stored is not None and stored["type"] == 11 and stored["parent_id"] == channel_id
    assert [m["content"] for m in fake.channel_messages(str(thread.id))] == ["on it"]
    assert isinstance(client.get_channel(thread.id), discord.Thread)


async def test_message_content_intent_is_enforced(fake: FakeDiscord, start_bot: StartBot) -> None:
    guild = fake.add_guild("Home")
    channel_id = guild["channels"][0]["id"]
    client = await start_bot(new_client(intents=bot_intents(message_content=False)))
    bob = fake.add_user(name="bob")

    fake.user_sends_in_channel(channel_id, bob["id"], "chatter")
    assert (await client.wait_for("message", timeout=5)).content == ""
    fake.user_sends_in_channel(channel_id, bob["id"], "for you", mention_bot=True)
    assert (await client.wait_for("message", timeout=5)).content.endswith("for you")
    fake.user_sends_dm(bob["id"], "private")
    assert (await client.wait_for("message", timeout=5)).content == "private"


async def test_buttons_are_checked_and_a_press_updates_the_message(fake: FakeDiscord, start_bot: StartBot) -> None:
    client = await start_bot()
    alice = fake.add_user(name="alice")
    fake.user_sends_dm(alice["id"], "hi")
    incoming: discord.Message = await client.wait_for("message", timeout=5)

    twice = discord.ui.View()
    twice.add_item(discord.ui.Button(label="A", custom_id="same"))
    twice.add_item(discord.ui.Button(label="B", custom_id="same"))
    with pytest.raises(discord.HTTPException) as duplicated:
        await incoming.channel.send("pick one", view=twice)
    assert (duplicated.value.status, duplicated.value.code) == (400, 50035)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Snooze", custom_id="snooze"))
    view.stop()
    sent = await incoming.channel.send("pick one", view=view)
    with pytest.raises(LookupError):
        fake.press_button(alice["id"], str(sent.id), "not-there")

    async def answer(interaction: discord.Interaction) -> None:
        if interaction.type == discord.InteractionType.component:
            await interaction.response.edit_message(content="pick one\nsnoozed", view=None)

    answer.__name__ = "on_interaction"
    client.event(answer)
    pressed = fake.press_button(alice["id"], str(sent.id), "snooze")
    assert (pressed["type"], pressed["data"]["custom_id"], pressed["message"]["id"]) == (3, "snooze", str(sent.id))

    def updated(_: FakeDiscord) -> dict[str, Any] | None:
        message = fake.message(str(sent.id))
        return message if message and message["content"].endswith("snoozed") else None

    shown = await fake.await_for(updated, 5)
    assert shown["components"] == [] and shown["edited_timestamp"] is not None
    assert fake.interaction(pressed["id"])["callback_type"] == 7  # type: ignore[index]
    with pytest.raises(LookupError):
        fake.press_button(alice["id"], str(sent.id), "snooze")  # the buttons are gone
