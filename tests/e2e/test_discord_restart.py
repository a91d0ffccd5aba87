"""The bot process is killed in the middle of an answer and started again (python -m bot run)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.database import Database
from core.db.models import Message
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


def start_bot(fake: FakeDiscord, openai_fake: FakeOpenAI, database_url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DISCORD_", "SLACK_"))}
    env.update(
        PYTHONPATH=str(REPO),
        DISCORD_TOKEN=fake.bot_token,
        DISCORD_API_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=openai_fake.base_url,
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        ALLOWED_ACCOUNTS="discord:*",
        CHECKPOINT_INTERVAL="0.1",
        WEB_PORT="0",  # the web app runs beside the bot: a free port, never one another test holds
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=data_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


async def test_killed_mid_answer_the_bot_closes_the_cut_answer_and_carries_on(
    fake_discord: FakeDiscord, openai_fake: FakeOpenAI, database: Database, tmp_path: Path
) -> None:
    fake = fake_discord
    alice = fake.add_user(name="alice")["id"]
    first = start_bot(fake, openai_fake, database.url, tmp_path)
    try:
        await fake.await_for(lambda f: f.registered_commands.get("global"), 20)
        openai_fake.queue(Reply(" ".join(f"word{n}" for n in range(200)), delay=0.05))
        fake.user_sends_dm(alice, "tell me a long story")
        channel = fake.dm_channel_id(alice)
        assert channel is not None

        def bot_message(f: FakeDiscord) -> dict | None:
            return next((m for m in f.channel_messages(channel) if m["author"]["id"] == f.bot_user_id), None)

        await fake.await_for(lambda f: (m := bot_message(f)) and "word12" in m["content"], 15)
        await asyncio.sleep(0.3)  # let a checkpoint land
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    async with database.session() as session:
        user_message, answer = (await session.scalars(select(Message).order_by(Message.id))).all()
    assert user_message.content == "tell me a long story"
    assert answer.status == "streaming", "the killed process could not close its answer"
    cut_text = answer.content
    assert cut_text.startswith("word0 word1")

    second = start_bot(fake, openai_fake, database.url, tmp_path)
    try:
        closed = await fake.await_for(
            lambda f: (m := bot_message(f)) and "▌" not in m["content"] and "cut off" in m["content"] and m, 20
        )
        assert closed["content"] == cut_text + "\n\n-# ⚠️ This answer was cut off when the assistant restarted."
        async with database.session() as session:
            answer = await session.get(Message, answer.id)
        assert answer.status == "partial"

        openai_fake.queue(Reply("I'm back. Where were we?"))
        fake.user_sends_dm(alice, "hello again")
        await fake.await_for(
            lambda f: (
                [m["content"] for m in f.channel_messages(channel) if m["author"]["id"] == f.bot_user_id][-1:]
                == ["I'm back. Where were we?"]
            ),
            15,
        )
        history = str(openai_fake.last_messages())
        assert "tell me a long story" in history and "this answer was cut off" in history
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=15)[0].decode()
    assert second.returncode == 0, output
    assert "sk-test" not in output and fake.bot_token not in output
