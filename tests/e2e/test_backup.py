"""`captainslog backup` while answers stream, then `captainslog restore`: everything is there.

The backup runs as the real command in a subprocess while the bot's own process
(here: a ChatService on the same SQLite file) is streaming answers into it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.chat import ChatService
from core.db.database import Database
from core.llm import OpenAIModel
from tests.chat_helpers import say
from tests.conftest import make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.terminal_helpers import environment

ROOT = Path(__file__).resolve().parents[2]


def captainslog(*arguments: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "bot", *arguments],
        capture_output=True,
        text=True,
        cwd=data_dir.parent,
        env=environment(data_dir),
        timeout=60,
        check=False,
    )


def contents(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT role, content FROM messages WHERE status = 'complete' ORDER BY id"))


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite online backup; PostgreSQL's goes through pg_dump (tested below)")


async def test_a_backup_while_answers_stream_restores_everything(
    sqlite_only: None, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    chat: ChatService = make_chat_service(database, model)
    live = Path(make_url(database.url).database or "")
    openai_fake.queue(*(Reply(f"Answer number {n}.") for n in range(20)))
    for n in range(20):
        await say(chat, f"question number {n}")
    openai_fake.queue(Reply("a slow answer " * 30, delay=0.05))
    streaming = asyncio.create_task(say(chat, "one more, slowly"))
    while len(openai_fake.chat_requests()) < 21:  # noqa: ASYNC110 - until the slow answer streams (no event for it)
        await asyncio.sleep(0.01)
    copy = tmp_path / "copy.db"

    made = await asyncio.to_thread(captainslog, "backup", str(copy), data_dir=live.parent)

    assert made.returncode == 0, made.stderr
    assert not streaming.done(), "the backup did not wait for the answer (nor hold it back)"
    assert made.stdout.startswith(f"Backed up to {copy} (")
    reply = await streaming
    assert reply.text.startswith("a slow answer")

    fresh = tmp_path / "restored" / "data"
    restored = captainslog("restore", str(copy), data_dir=fresh)

    assert restored.returncode == 0, restored.stderr
    assert re.match(rf"Restored {re.escape(str(copy))} \(4[12] messages\) into the SQLite file ", restored.stdout)
    rows = contents(fresh / "captainslog.db")
    assert rows[:40] == [
        row for n in range(20) for row in (("user", f"question number {n}"), ("assistant", f"Answer number {n}."))
    ]
    assert rows[40] == ("user", "one more, slowly"), "the message already stored when the copy was made"


def test_restore_checks_before_it_replaces_anything(tmp_path: Path, openai_fake: FakeOpenAI) -> None:
    data = tmp_path / "bot" / "data"
    assert captainslog("migrate", data_dir=data).returncode == 0
    copy = tmp_path / "copy.db"
    assert captainslog("backup", str(copy), data_dir=data).returncode == 0
    again = captainslog("backup", str(copy), data_dir=data)
    assert (
        again.returncode == 2
        and again.stderr.strip() == f"captainslog: Backup failed: {copy} exists already; name a new file."
    )

    not_ours = tmp_path / "notes.txt"
    not_ours.write_text("shopping list\n")
    refused = captainslog("restore", str(not_ours), data_dir=data)
    assert refused.returncode == 2 and "is not a CaptainsLog database" in refused.stderr

    newer = tmp_path / "newer.db"
    newer.write_bytes(copy.read_bytes())
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00dfeed0001'")
    refused = captainslog("restore", str(newer), data_dir=data)
    assert refused.returncode == 2 and "made by a newer CaptainsLog (schema f00dfeed0001)" in refused.stderr


def backed_up_empty_database(tmp_path: Path, openai_fake: FakeOpenAI) -> tuple[Path, Path]:
    """A migrated bot folder, a backup of it while still empty, and the model's next answer "Kept."."""
    data = tmp_path / "bot" / "data"
    assert captainslog("migrate", data_dir=data).returncode == 0
    copy = tmp_path / "empty-copy.db"
    assert captainslog("backup", str(copy), data_dir=data).returncode == 0
    openai_fake.queue(Reply("Kept."))
    return data, copy


def test_restore_never_overwrites_a_database_with_messages_without_force(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    data, copy = backed_up_empty_database(tmp_path, openai_fake)
    talked = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        input="keep me\n",
        capture_output=True,
        text=True,
        cwd=data.parent,
        env={**environment(data), "OPENAI_BASE_URL": openai_fake.base_url},
        timeout=60,
        check=False,
    )
    assert talked.returncode == 0, talked.stderr
    live = data / "captainslog.db"
    assert contents(live) == [("user", "keep me"), ("assistant", "Kept.")]

    refused = captainslog("restore", str(copy), data_dir=data)
    assert refused.returncode == 2 and "add --force" in refused.stderr
    assert contents(live) == [("user", "keep me"), ("assistant", "Kept.")]

    forced = captainslog("restore", str(copy), "--force", data_dir=data)
    assert forced.returncode == 0, forced.stderr
    assert contents(live) == []


async def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_force(
    database_url: str, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_dump: PostgreSQL only")
    if shutil.which("pg_dump") is None:
        pytest.skip("PostgreSQL's client tools are not installed")
    chat = make_chat_service(database, model)
    openai_fake.queue(Reply("Noted."))
    await say(chat, "the boat is called Nautilus")
    data = tmp_path / "data"
    copy = tmp_path / "captainslog.dump"

    def command(*arguments: str, url: str) -> subprocess.CompletedProcess[str]:
        data.parent.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [sys.executable, "-m", "bot", *arguments],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**environment(data), "DATABASE_URL": url},
            timeout=60,
            check=False,
        )

    made = await asyncio.to_thread(command, "backup", str(copy), url=database_url)
    assert made.returncode == 0 and made.stdout.startswith(f"Backed up to {copy}."), made.stderr
    async with database.engine.begin() as conn:
        await conn.execute(text("DELETE FROM messages"))

    refused = await asyncio.to_thread(command, "restore", str(copy), url=database_url)
    assert refused.returncode == 2 and "add --force" in refused.stderr
    restored = await asyncio.to_thread(command, "restore", str(copy), "--force", url=database_url)
    assert restored.returncode == 0, restored.stderr

    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT role, content FROM messages ORDER BY id"))).all()
    assert [tuple(row) for row in rows] == [("user", "the boat is called Nautilus"), ("assistant", "Noted.")]


def test_restore_is_refused_while_a_chat_runs_and_keeps_what_it_replaces(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    data, copy = backed_up_empty_database(tmp_path, openai_fake)
    running = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--transcript"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=data.parent,
        env={**environment(data), "OPENAI_BASE_URL": openai_fake.base_url},
    )
    try:
        assert running.stdin is not None and running.stdout is not None
        running.stdin.write(b"keep me\n")
        running.stdin.flush()
        seen = b""
        while b"Kept." not in seen:  # the chat is up and has written to the database
            chunk = running.stdout.read1(4096)  # type: ignore[attr-defined]
            assert chunk, running.stderr.read().decode() if running.stderr else ""
            seen += chunk

        refused = captainslog("restore", str(copy), "--force", data_dir=data)

        assert refused.returncode == 2
        assert "CaptainsLog is running on this database" in refused.stderr and "stop it first" in refused.stderr
    finally:
        running.communicate(input=b"", timeout=60)
    live = data / "captainslog.db"
    assert contents(live) == [("user", "keep me"), ("assistant", "Kept.")]

    forced = captainslog("restore", str(copy), "--force", data_dir=data)

    assert forced.returncode == 0, forced.stderr
    assert contents(live) == []
    [kept] = data.glob("captainslog.db.before-restore-*")
    assert contents(kept) == [("user", "keep me"), ("assistant", "Kept.")], "--force keeps what it replaced"
