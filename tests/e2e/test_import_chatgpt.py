"""`captainslog import-chatgpt PERSON FILE` with a small ChatGPT export made here, as ChatGPT writes it."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.clock import ManualClock
from core.data_import.chatgpt import ImportRefused, import_conversations, read_export
from core.db.database import Database
from core.db.models import Message
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.memory_helpers import add_user, build_memory
from tests.terminal_helpers import chat, run_bot

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def node(
    ident: str, role: str | None, text: str | None, parent: str | None, children: list[str], at: float
) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": ident,
            "author": {"role": role},
            "create_time": at,
            "content": {"content_type": "text", "parts": [text]},
            "metadata": {},
        }
    return {"id": ident, "message": message, "parent": parent, "children": children}


def export() -> list[dict[str, Any]]:
    trip = {
        "id": "c-trip",
        "title": "Lisbon trip",
        "create_time": T0,
        "current_node": "a2",
        "mapping": {
            "root": node("root", None, None, None, ["sys"], T0),
            "sys": node("sys", "system", "You are ChatGPT.", "root", ["u1"], T0),
            "u1": node("u1", "user", "We land in Lisbon on the 3rd; find a tram to Alfama", "sys", ["a1"], T0 + 1),
            "a1": node("a1", "assistant", "Take tram 28 from Martim Moniz.", "u1", ["u2-old", "u2"], T0 + 2),
            "u2-old": node("u2-old", "user", "an edited-away question", "a1", ["x"], T0 + 3),
            "x": node("x", "assistant", "an answer on the abandoned branch", "u2-old", [], T0 + 4),
            "u2": node("u2", "user", "And a good pastel de nata?", "a1", ["a2"], T0 + 5),
            "a2": node("a2", "assistant", "Manteigaria, near Camões.", "u2", [], T0 + 6),
        },
    }
    empty = {"id": "c-empty", "title": "Only a system prompt", "create_time": T0, "current_node": "s",
             "mapping": {"s": node("s", "system", "You are ChatGPT.", None, [], T0)}}  # fmt: skip
    broken = {"id": "c-broken", "title": "Broken"}  # no mapping
    return [trip, empty, broken]


def test_an_export_is_imported_once_with_its_dates_and_bad_items_named(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.queue(Reply("Hello."))
    chat(openai_fake, tmp_path, "hello")  # the terminal user exists
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("conversations.json", json.dumps(export()))

    first = run_bot(f"import-chatgpt tester {archive}", tmp_path, OPENAI_BASE_URL=openai_fake.base_url)
    again = run_bot(f"import-chatgpt tester {archive}", tmp_path, OPENAI_BASE_URL=openai_fake.base_url)

    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "skipped conversation 2 ('Only a system prompt'): no text messages in it; skipped"
    assert lines[1].startswith("skipped conversation 3 ('Broken'): not readable (KeyError")
    assert lines[2].startswith("Imported 1 conversation (4 messages, 2023-11-14 to 2023-11-14) for tester.")
    assert lines[3] == "Summarised 1 day of imported history, one summary per conversation and day."
    assert again.stdout.splitlines()[-3:] == [
        "skipped 'Lisbon trip': imported before; skipped",
        f"Nothing new to import from {archive}.",
        "Every imported day already has its summary.",
    ]
    with sqlite3.connect(tmp_path / "data" / "captainslog.db") as db:
        rows = db.execute(
            "SELECT m.role, m.content, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.platform = 'chatgpt' ORDER BY m.id"
        ).fetchall()
    assert [(role, content) for role, content, _ in rows] == [
        ("user", "We land in Lisbon on the 3rd; find a tram to Alfama"),
        ("assistant", "Take tram 28 from Martim Moniz."),
        ("user", "And a good pastel de nata?"),
        ("assistant", "Manteigaria, near Camões."),
    ]
    assert rows[0][2].startswith("2023-11-14 22:13:21"), "the original time is kept"
    with sqlite3.connect(tmp_path / "data" / "captainslog.db") as db:
        summaries = db.execute(
            "SELECT s.first_message_id, s.last_message_id, s.text FROM summaries s "
            "JOIN conversations c ON c.id = s.conversation_id WHERE c.platform = 'chatgpt'"
        ).fetchall()
        ids = [row[0] for row in db.execute(
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.platform = 'chatgpt' ORDER BY m.id"
        )]  # fmt: skip
    [(first, last, text)] = summaries
    assert (first, last) == (ids[0], ids[-1]), "the day's summary names its exact range"
    assert "tram to Alfama" in text, "the summary model was shown the day (the fake echoes it)"


def test_days_left_unsummarised_while_the_model_is_away_are_done_by_the_next_run(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.queue(Reply("Hello."))
    chat(openai_fake, tmp_path, "hello")
    source = tmp_path / "conversations.json"
    source.write_text(json.dumps(export()))

    away = run_bot(f"import-chatgpt tester {source}", tmp_path, OPENAI_BASE_URL="http://127.0.0.1:9/v1",
                   OPENAI_MAX_RETRIES="0")  # fmt: skip
    back = run_bot(f"import-chatgpt tester {source}", tmp_path, OPENAI_BASE_URL=openai_fake.base_url)

    assert away.returncode == 0, away.stderr
    assert away.stdout.splitlines()[-1].startswith("Summarised 0 days; 1 day not yet: The model service cannot be")
    assert away.stdout.splitlines()[-1].endswith(
        "Run the same command again to finish them: nothing is imported twice."
    )
    assert back.stdout.splitlines()[-1] == "Summarised 1 day of imported history, one summary per conversation and day."


def test_on_a_new_install_import_says_who_can_be_named_instead_of_crashing(tmp_path: Path) -> None:
    source = tmp_path / "conversations.json"
    source.write_text(json.dumps(export()))

    refused = run_bot(f"import-chatgpt tester {source}", tmp_path)
    exported = run_bot("export-data tester", tmp_path)

    for result in (refused, exported):
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("captainslog: No one called 'tester' is stored here."), result.stderr
        assert "has started `captainslog chat`" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "data" / "captainslog.db") as db:
        assert db.execute("SELECT count(*) FROM identities").fetchone() == (0,), "the schema is there, migrated"


def test_a_file_that_is_not_an_export_imports_nothing(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.queue(Reply("Hello."))
    chat(openai_fake, tmp_path, "hello")
    notes = tmp_path / "notes.json"
    notes.write_text('{"shopping": ["eggs"]}')

    refused = run_bot(f"import-chatgpt tester {notes}", tmp_path, OPENAI_BASE_URL=openai_fake.base_url)

    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"captainslog: Nothing imported from {notes}: it is not a list of conversations: "
        "is it ChatGPT's conversations.json?"
    )


async def test_imported_history_is_found_by_memory_search(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    user = await add_user(database, "ada")
    conversations, skipped = read_export(json.dumps(export()).encode())
    await import_conversations(database, user.id, conversations, skipped)
    memory = build_memory(database, model, ManualClock(TEST_NOW))

    indexed = await memory.store.backfill()
    hits = await memory.search.search(user.id, "which tram goes to Alfama?")

    assert indexed == 4
    assert any("tram 28" in hit.text or "tram to Alfama" in hit.text for hit in hits[:3]), hits


async def test_odd_text_and_impossible_times_are_imported_not_a_crash(database: Database) -> None:
    """A NUL or a lone surrogate in the text (PostgreSQL and SQLite refuse them) and a time beyond any
    calendar (Infinity, 1e300) used to end the whole import with a traceback."""
    user = await add_user(database, "ada")
    odd = {
        "id": "c-odd",
        "title": "Odd",
        "create_time": T0,
        "current_node": "a1",
        "mapping": {
            "u1": node("u1", "user", "door code 12\x0034 \ud800", None, ["a1"], float("inf")),
            "a1": node("a1", "assistant", "Noted.", "u1", [], 1e300),
        },
    }
    deep = b"[" * 100_000 + b"]" * 100_000

    conversations, skipped = read_export(json.dumps([odd]).encode())
    report = await import_conversations(database, user.id, conversations, skipped)

    assert (report.conversations, report.messages, report.skipped) == (1, 2, [])
    async with database.session() as session:
        rows = (await session.execute(select(Message.content, Message.created_at).order_by(Message.id))).all()
    assert [content for content, _ in rows] == ["door code 12\ufffd34 \ufffd", "Noted."]
    assert {at.replace(tzinfo=UTC) for _, at in rows} == {datetime.fromtimestamp(T0, tz=UTC)}, (
        "a time beyond the calendar takes the one before"
    )
    with pytest.raises(ImportRefused, match="nested too deeply"):
        read_export(deep)
