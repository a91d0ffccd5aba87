"""Discord end to end: real discord.py against the loopback Discord fake, real core, real database.

Each test reads like what a Discord user sees in their DM or thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import make_url, select

from adapters.discord import DiscordService
from adapters.strangers import StrangerGate
from core.chat import ChatService
from core.clock import ManualClock
from core.commands import CommandSet
from core.db.database import Database
from core.db.models import Message
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.e2e.platform_bot import open_fake_discord, restore_discord_endpoints
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

MARKER = "▌"


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


@dataclass
class Bot:
    service: DiscordService
    chat: ChatService
    fake: FakeDiscord

    def bot_texts(self, channel_id: str) -> list[str]:
        return [
            m["content"] for m in self.fake.channel_messages(channel_id) if m["author"]["id"] == self.fake.bot_user_id
        ]

    async def answer_in(self, channel_id: str, *, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Wait until the bot's last ``count`` messages in the channel are final (no streaming marker)."""

        def finished(fake: FakeDiscord) -> list[str] | None:
            texts = self.bot_texts(channel_id)
            if len(texts) >= count and all(MARKER not in t for t in texts[-count:]):
                return texts[-count:]
            return None

        return await self.fake.await_for(finished, timeout)


async def start_bot(fake: FakeDiscord, database: Database, model: OpenAIModel, **kwargs: object) -> Bot:
    chat = make_chat_service(
        database,
        model,
        allowed=kwargs.pop("allowed", ("discord:*",)),  # type: ignore[arg-type]
        clock=kwargs.pop("clock", None),  # type: ignore[arg-type]
    )
    clock = chat.clock
    service = DiscordService(
        token=fake.bot_token,
        chat=chat,
        gate=StrangerGate(chat.people, clock=chat.clock),
        sleep=clock.sleep if isinstance(clock, ManualClock) else asyncio.sleep,
        commands=CommandSet(chat, model),
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.1,
    )
    await asyncio.wait_for(service.start(), 10)
    return Bot(service, chat, fake)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, database: Database, model: OpenAIModel) -> AsyncIterator[Bot]:
    running = await start_bot(fake_discord, database, model)
    yield running
    await running.service.stop()


def dm(fake: FakeDiscord, user_id: str, text: str, **kwargs: object) -> str:
    """The user writes to the bot; returns the DM channel id."""
    fake.user_sends_dm(user_id, text, **kwargs)  # type: ignore[arg-type]
    channel = fake.dm_channel_id(user_id)
    assert channel is not None
    return channel


async def test_a_dm_is_answered_by_editing_a_placeholder(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    answer = "Good morning Alice! " + " ".join(f"word{n}" for n in range(60))
    openai_fake.queue(Reply.at_rate(answer, first_token_after=0.05, words_per_second=60))

    channel = dm(bot.fake, alice, "good morning")

    assert await bot.answer_in(channel) == [answer]
    bot_calls = [e for e in bot.fake.log if e.channel_id == channel and e.route in ("messages.create", "messages.edit")]
    assert bot_calls[0].route == "messages.create" and bot_calls[0].content == MARKER, "a placeholder comes first"
    assert any(
        e.route == "messages.edit" and e.content and e.content.endswith(MARKER) and len(e.content) > 2
        for e in bot_calls
    ), "partial text was shown with the streaming marker"
    assert bot.fake.rate_limited == []


async def test_a_long_answer_continues_in_more_messages_with_nothing_lost(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    paragraphs = [" ".join(f"p{p}w{n}" for n in range(60)) for p in range(14)]
    code = "```python\n" + "".join(f"print({n})\n" for n in range(60)) + "```"
    answer = "\n\n".join(paragraphs[:7] + [code] + paragraphs[7:])
    assert len(answer) > 5000
    openai_fake.queue(Reply(answer, delay=0.0005))

    channel = dm(bot.fake, alice, "write a lot")
    parts = await bot.answer_in(channel, count=3)
    await asyncio.sleep(0.3)
    parts = bot.bot_texts(channel)

    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    rebuilt = "".join(parts)
    # Fences closed at the end of a part and reopened at the start of the next are the only additions.
    for part in parts[1:]:
        if part.startswith("```python\n"):
            rebuilt = rebuilt.replace("\n```" + part, part[len("```python\n") :], 1).replace(
                "```" + part, part[len("```python\n") :], 1
            )
    assert rebuilt == answer
    assert bot.fake.rate_limited == []


async def test_twenty_users_at_once_get_their_answers_without_a_single_429(
    fake_discord: FakeDiscord, database_url: str, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    database = Database(database_url)
    bot = await start_bot(fake_discord, database, model)
    users = [fake_discord.add_user(name=f"user{n}")["id"] for n in range(20)]
    openai_fake.default = lambda request: Reply.at_rate(
        "Answer for " + str(request["messages"][-1]["content"]).split("]\n")[-1] + ": " + " ".join(["lorem"] * 80),
        first_token_after=0.3,
        words_per_second=40,
    )

    channels = await asyncio.gather(
        *(asyncio.to_thread(dm, fake_discord, user, f"question {n}") for n, user in enumerate(users))
    )
    answers = await asyncio.gather(*(bot.answer_in(channel, timeout=20) for channel in channels))

    for n, answer in enumerate(answers):
        assert answer == [f"Answer for question {n}: " + " ".join(["lorem"] * 80)]
    assert fake_discord.rate_limited == []
    await bot.service.stop()
    await database.dispose()


async def test_image_command_uploads_the_generated_image(bot: Bot) -> None:
    alice = bot.fake.add_user(name="alice")["id"]

    bot.fake.invoke_command(alice, "image", {"prompt": "a lighthouse at dawn"})

    followup = await bot.fake.await_for(
        lambda f: next((r for r in f.interaction_responses if r.kind == "followup" and r.files), None), 10
    )
    assert "a lighthouse at dawn" in followup.payload["content"]
    [upload] = followup.files
    assert upload.filename == "image.png" and upload.data.startswith(b"\x89PNG")


async def test_help_and_settings_commands_answer_privately(bot: Bot) -> None:
    alice = bot.fake.add_user(name="alice")["id"]

    bot.fake.invoke_command(alice, "settings", {"timezone": "Asia/Tokyo"})
    record = await bot.fake.await_for(
        lambda f: next((r for r in f.interaction_responses if r.kind == "callback"), None)
    )

    assert "Time zone set to Asia/Tokyo." in str(record.payload)
    assert record.payload["data"]["flags"] & 64, "ephemeral"
    assert sorted(c["name"] for c in bot.fake.registered_commands["global"]) == [
        "forget",
        "help",
        "image",
        "new",
        "settings",
    ]


async def test_edits_and_deletes_on_discord_change_the_history(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    openai_fake.default = lambda _request: Reply("Noted.")
    channel = dm(bot.fake, alice, "my favourite colour is red")
    await bot.answer_in(channel)
    first = next(m for m in bot.fake.channel_messages(channel) if m["author"]["id"] == alice)
    dm(bot.fake, alice, "my secret is 1234")
    await bot.answer_in(channel, count=2)
    second = [m for m in bot.fake.channel_messages(channel) if m["author"]["id"] == alice][1]

    bot.fake.user_edits(first["id"], "my favourite colour is green")
    bot.fake.user_deletes(second["id"])

    async def history_followed() -> bool:
        contents = [m.content for m in await bot.chat.history(_place(channel))]
        return "my favourite colour is green" in contents and "my secret is 1234" not in contents

    for _ in range(250):
        if await history_followed():
            break
        await asyncio.sleep(0.02)
    assert await history_followed()
    dm(bot.fake, alice, "what do you know?")
    await bot.answer_in(channel, count=3)

    seen = str(openai_fake.last_messages())
    assert "green" in seen and "red" not in seen and "1234" not in seen


def _place(channel_id: str):  # noqa: ANN202 - test helper
    from adapters.discord.mapping import place_of

    return place_of(int(channel_id), None)


async def test_a_mention_in_a_server_opens_a_thread_that_continues_without_mentions(
    bot: Bot, openai_fake: FakeOpenAI
) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    guild = bot.fake.add_guild("Home")
    general = guild["channels"][0]["id"]
    openai_fake.queue(Reply("Happy to help in this thread."), Reply("Still here."))

    mention = bot.fake.user_sends_in_channel(general, alice, "can you help?", mention_bot=True)
    thread_id = mention["id"]  # a thread opened on a message has that message's id
    assert await bot.answer_in(thread_id) == ["Happy to help in this thread."]
    bot.fake.user_sends_in_channel(thread_id, alice, "thanks, one more thing")

    assert await bot.answer_in(thread_id, count=2) == ["Happy to help in this thread.", "Still here."]
    assert "can you help?" in str(openai_fake.chat_requests()[0]["messages"][-1])
    # Everyone in the server reads the thread: the model is told so, and other people's words are untrusted.
    assert "untrusted" in openai_fake.chat_requests()[1]["messages"][0]["content"]


async def test_images_reach_the_model_and_other_files_get_a_clear_line(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64

    channel = dm(
        bot.fake,
        alice,
        "what is in this picture?",
        attachments=[("cat.png", png, "image/png"), ("report.pdf", b"%PDF", "application/pdf")],
    )
    texts = await bot.answer_in(channel, count=2)

    assert texts[0] == "-# report.pdf is not supported yet: I can only read images and audio."
    content = openai_fake.last_messages()[-1]["content"]
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_strangers_are_refused_and_the_model_is_not_called(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    bot = await start_bot(fake_discord, database, model, allowed=("discord:*:42",))
    mallory = fake_discord.add_user(name="mallory")["id"]

    channel = dm(fake_discord, mallory, "let me in")

    [text] = await bot.answer_in(channel)
    assert "private" in text
    assert openai_fake.chat_requests() == []
    await bot.service.stop()


async def test_tool_status_shows_in_the_message_while_the_tool_runs(bot: Bot, openai_fake: FakeOpenAI) -> None:
    from tests.fakes.openai_server import ToolCalls

    alice = bot.fake.add_user(name="alice")["id"]
    openai_fake.queue(
        ToolCalls([("calculate", {"expression": "21 * 2"})], text="Let me see."), Reply("It is 42.", first_delay=0.5)
    )

    channel = dm(bot.fake, alice, "what is 21 times 2?")

    assert await bot.answer_in(channel) == ["Let me see.\n\nIt is 42."]
    shown = [e.content for e in bot.fake.log if e.channel_id == channel and e.route == "messages.edit"]
    assert any(s and "-# Calculating…" in s for s in shown)


async def test_a_model_failure_ends_the_message_with_a_short_explanation(bot: Bot, openai_fake: FakeOpenAI) -> None:
    from tests.fakes.openai_server import Broken

    alice = bot.fake.add_user(name="alice")["id"]
    openai_fake.queue(Broken("Here is the start of it and", after_chunks=5))

    channel = dm(bot.fake, alice, "go")

    assert await bot.answer_in(channel) == [
        "Here is the start of \n\n-# ⚠️ The connection to the model broke off in the middle of the answer."
    ]


async def test_new_and_forget_commands_change_what_the_model_sees(bot: Bot, openai_fake: FakeOpenAI) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    openai_fake.default = lambda _request: Reply("ok")

    async def ask(text: str) -> str:
        asked = len(openai_fake.chat_requests())
        channel = dm(bot.fake, alice, text)
        await bot.fake.await_for(lambda _f: len(openai_fake.chat_requests()) > asked)
        await bot.answer_in(channel)
        return str(openai_fake.last_messages())

    async def command(name: str, expect: str) -> None:
        bot.fake.invoke_command(alice, name)
        await bot.fake.await_for(lambda f: any(expect in str(r.payload) for r in f.interaction_responses))

    await ask("remember the number 7")
    await ask("and the number 8")
    await command("forget", "Done")
    seen = await ask("which numbers?")
    assert "number 7" in seen and "number 8" not in seen

    await command("new", "fresh conversation")
    assert "number 7" not in await ask("hello again")


@pytest.fixture
def strict_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    from tests.fakes.discord_server import DiscordLimits

    # A Discord far stricter than the limits the bot plans for: 2 edits a second per channel, 8 requests a second.
    with FakeDiscord(limits=DiscordLimits(channel_edit=(2, 1.0), global_per_second=8)) as fake:
        restore_discord_endpoints(monkeypatch)
        yield fake


async def test_rate_limits_stricter_than_expected_are_waited_out_and_nothing_is_lost(
    strict_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    bot = await start_bot(strict_discord, database, model)
    users = [strict_discord.add_user(name=f"u{n}")["id"] for n in range(6)]
    openai_fake.default = lambda request: Reply.at_rate(
        "Reply to " + str(request["messages"][-1]["content"]).split("]\n")[-1] + " " + "word " * 40, 0.05, 80
    )

    channels = [dm(strict_discord, user, f"q{n}") for n, user in enumerate(users)]
    answers = await asyncio.gather(*(bot.answer_in(c, timeout=30) for c in channels))

    assert answers == [[f"Reply to q{n} " + "word " * 40] for n in range(6)]
    assert strict_discord.rate_limited, "this Discord does refuse some calls"
    await bot.service.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_busy_database_does_not_hold_back_the_answer_and_it_is_stored_after(
    bot: Bot, openai_fake: FakeOpenAI, database: Database
) -> None:
    alice = bot.fake.add_user(name="alice")["id"]
    answer = "Still with you: " + " ".join(f"word{n}" for n in range(50))
    openai_fake.queue(Reply.at_rate(answer, first_token_after=0.05, words_per_second=40))
    channel = dm(bot.fake, alice, "are you there?")
    await bot.fake.await_for(lambda fake: any(len(t) > 20 for t in bot.bot_texts(channel)), 5)

    # Another writer takes the database for a while (a backup, a migration, 100 other turns).
    path = make_url(database.url).database
    assert path is not None
    blocker = sqlite3.connect(path, timeout=10, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        assert await bot.answer_in(channel, timeout=8) == [answer]
        stored = blocker.execute("SELECT status FROM messages WHERE role = 'assistant'").fetchall()
        assert stored != [("complete",)], "the answer was shown while the database could not take it yet"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    async def stored_answer() -> tuple[str, str]:
        async with database.engine.connect() as conn:
            row = (await conn.execute(select(Message.content, Message.status).where(Message.role == "assistant"))).one()
        return row.content, row.status

    for _ in range(100):
        if await stored_answer() == (answer, "complete"):
            break
        await asyncio.sleep(0.05)
    assert await stored_answer() == (answer, "complete")


async def test_a_long_wait_for_the_first_word_keeps_typing_alive_and_says_still_thinking(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(TEST_NOW)
    bot = await start_bot(fake_discord, database, model, clock=clock)
    alice = fake_discord.add_user(name="alice")["id"]
    model_answers = threading.Event()
    openai_fake.queue(Reply("Here it is.", hold=model_answers))

    async def after(seconds: float) -> None:
        """Let ``seconds`` pass on the clock once the bot is waiting on it."""
        await fake_discord.await_for(lambda _: clock.sleepers > 0)
        clock.advance(seconds=seconds)

    def typing_count(count: int) -> Callable[[FakeDiscord], bool]:
        return lambda fake: len([e for e in fake.typing_events if e.channel_id == channel]) >= count

    channel = dm(fake_discord, alice, "a hard question")
    await fake_discord.await_for(lambda _: MARKER in bot.bot_texts(channel) and typing_count(1)(fake_discord))
    assert bot.bot_texts(channel) == [MARKER], "a bare cursor for the first seconds"
    await after(8)
    await fake_discord.await_for(typing_count(2))  # Discord's indicator would lapse at about 10 s
    await after(2)
    await fake_discord.await_for(lambda _: bot.bot_texts(channel) == [f"{MARKER}\n-# still thinking…"])
    await after(6)
    await fake_discord.await_for(typing_count(3))
    await after(8)
    await fake_discord.await_for(typing_count(4))

    model_answers.set()
    assert await bot.answer_in(channel) == ["Here it is."]
    clock.advance(seconds=60)  # nothing more once the answer is there
    await asyncio.sleep(0)
    assert len([e for e in fake_discord.typing_events if e.channel_id == channel]) == 4
    assert fake_discord.rate_limited == []
    await bot.service.stop()
