"""Your data out: `/export-data` in the chat and `captainslog export-data PERSON`, as a person would use them."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.chat import ChatService
from core.data_export.archive import write_archive
from core.data_export.collect import LEFT_OUT, collect
from core.db.database import Database
from core.llm import OpenAIModel
from core.reminders.store import ReminderStore
from core.reminders.times import Schedule
from core.types import ConversationRef, PlatformIdentity
from tests.chat_helpers import say
from tests.conftest import make_chat_service
from tests.e2e.test_terminal_commands import saved_file
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.terminal_helpers import chat, run_bot


def test_export_data_in_the_chat_gives_a_zip_with_everything(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.queue(Reply("Nautilus is a fine name for a boat."))

    session = chat(openai_fake, tmp_path, "my boat is called Nautilus", "/export-data")

    reply = session.replies[1]
    assert reply.startswith("Here is captainslog-export-") and "everything I store about you" in reply
    archive = zipfile.ZipFile(saved_file(reply))
    names = archive.namelist()
    assert "README.txt" in names and "profile.json" in names and "memories.json" in names
    assert json.loads(archive.read("reminders.json")) == []
    profile = json.loads(archive.read("profile.json"))
    assert profile["accounts"][0]["platform"] == "terminal" and profile["accounts"][0]["user_id"] == "tester"
    [record] = [n for n in names if n.startswith("conversations/") and n.endswith(".json")]
    messages = json.loads(archive.read(record))["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "my boat is called Nautilus"),
        ("assistant", "Nautilus is a fine name for a boat."),
    ]
    assert messages[0]["created_at"].endswith("+00:00"), "times are ISO 8601 with their offset"
    [day] = [n for n in names if n.startswith("conversations/") and n.endswith(".md")]
    text = archive.read(day).decode()
    assert "**You**, " in text and "my boat is called Nautilus" in text and "**Assistant**, " in text
    session.assert_no_secret_or_traceback()


def test_export_data_from_the_command_line_names_the_person(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.queue(Reply("Noted."))
    chat(openai_fake, tmp_path, "the mooring fee is due in March")
    out = tmp_path / "ada.zip"

    written = run_bot(f"export-data tester --out {out}", tmp_path)
    unknown = run_bot("export-data nobody@example.org", tmp_path)

    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(f"Wrote {out} (") and written.stdout.rstrip().endswith(
        "everything stored about tester."
    )
    with zipfile.ZipFile(out) as archive:
        assert any(
            b"the mooring fee is due in March" in archive.read(n) for n in archive.namelist() if n.endswith(".json")
        )
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("captainslog: No one called 'nobody@example.org' is stored here. Name the person")


async def test_other_peoples_words_in_a_shared_thread_are_left_out(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat_service: ChatService = make_chat_service(database, model)
    thread = ConversationRef("test", "T1", "C1", thread="1700.1")
    ada = PlatformIdentity("test", "T1", "ada", display_name="Ada")
    bob = PlatformIdentity("test", "T1", "bob", display_name="Bob")
    openai_fake.queue(Reply("Hello Ada."), Reply("Hello Bob."))
    await say(chat_service, "hi, I am Ada", author=ada, place=thread, shared_place=True)
    await say(chat_service, "my salary is 90k, says Bob", author=bob, place=thread, shared_place=True)
    ada_id = await chat_service.people.user_of(ada)  # type: ignore[attr-defined]
    assert ada_id is not None

    reminders = ReminderStore(database, clock=chat_service.clock)
    await reminders.create(
        user_id=ada_id,
        text="water the basil",
        schedule=Schedule(datetime(2026, 11, 30, 9, 0), ZoneInfo("Europe/Lisbon"), "FREQ=WEEKLY;BYDAY=MO"),
        platform="test",
    )

    export = await collect(database, ada_id)

    assert export is not None
    texts = [m.content for c in export.conversations for m in c.messages]
    assert "hi, I am Ada" in texts and "my salary is 90k, says Bob" not in texts
    assert LEFT_OUT in texts or all("Bob" not in t for t in texts)
    archive = zipfile.ZipFile(io.BytesIO(write_archive(export, now=datetime(2026, 11, 24, tzinfo=UTC))))
    assert not any(b"90k" in archive.read(name) for name in archive.namelist())
    [reminder] = json.loads(archive.read("reminders.json"))
    assert (reminder["text"], reminder["local_start"], reminder["timezone"], reminder["recurrence"]) == (
        "water the basil",
        "2026-11-30T09:00:00",
        "Europe/Lisbon",
        "FREQ=WEEKLY;BYDAY=MO",
    )
