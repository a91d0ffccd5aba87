"""The core's commands in the terminal chat, its daily log, and leaving while after-answer work runs.

As in tests/e2e/terminal_chat/: the real program (``python -m bot chat``) in a
subprocess with a clean environment, typing on its stdin, against the fake
OpenAI server of this test process.
"""

from __future__ import annotations

import io
import re
import signal
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from core.export.layout import long_date
from tests.fakes.openai_server import ChatScript, FakeOpenAI, Reply, ToolCalls, echo_responder
from tests.terminal_helpers import ASSISTANT, PROMPT, Running, chat

PARIS = ZoneInfo("Europe/Paris")  # DEFAULT_TIMEZONE of the test environment
FINISHING = "finishing up… (Ctrl-C to skip)\n"
SAVED = re.compile(r"^file saved: (.+)$", re.MULTILINE)
MEMORY_LINE = re.compile(r"^1\. Has a sister called Grace \(\d{4}-\d{2}-\d{2}\)$", re.MULTILINE)


def extraction_answers(fake: FakeOpenAI, *, delay: float) -> None:
    """Memory extraction (the one request asking for JSON) finds one fact, after ``delay`` seconds;
    other requests the queue does not answer get the fake's echo."""

    def respond(body: dict[str, Any]) -> ChatScript | str:
        if "response_format" in body:
            return Reply('{"memories": [{"text": "Has a sister called Grace", "replaces": null}]}', first_delay=delay)
        return echo_responder(body)

    fake.default = respond


def saved_file(reply: str) -> Path:
    """The path of the one ``file saved:`` line in ``reply``."""
    paths = SAVED.findall(reply)
    assert len(paths) == 1, reply
    return Path(paths[0])


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages)


def test_summary_and_export_of_today_in_the_terminal(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.queue(
        Reply("Fair winds."),
        Reply("A day of rigging the mainsail."),  # /summary
        Reply("A day of rigging the mainsail."),  # /export summarises today again (today is not closed)
    )

    session = chat(openai_fake, tmp_path, "we rigged the mainsail today", "/summary", "/export")

    answer, summary, export, _at_exit = session.replies
    assert answer == ASSISTANT + "Fair winds.\n"
    heading, _, text = summary.removeprefix("… writing the summary…\n").partition("\n\n")
    day = datetime.strptime(heading, "%A %d %B %Y").date()  # the bold heading, shown without its **
    assert heading == long_date(day) and abs(day - datetime.now(PARIS).date()) <= timedelta(days=1)
    assert text == "A day of rigging the mainsail.\n"
    name = f"{day.isoformat()} CaptainsLog.pdf"
    lines = export.splitlines()
    assert lines[:2] == ["… writing the summary…", "… rendering the PDF…"]
    assert re.fullmatch(rf"Here is {re.escape(name)} \(\d+ KB\)\.", lines[2]), "what happened here, not a DM"
    assert "DM" not in export
    path = saved_file(export)
    assert path == session.data_dir / "files" / "tester" / name and path.is_file(), "the terminal user's own folder"
    text = pdf_text(path)
    assert text.startswith(long_date(day)), text[:200]
    assert "A day of rigging the mainsail." in text and "we rigged the mainsail today" in text
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_settings_and_a_bad_date_answer_in_one_line(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    session = chat(
        openai_fake, tmp_path, "/settings daily-time 21:15", "/settings voice on", "/summary next week", "/summary"
    )

    daily_time, voice, bad_date, nothing, _at_exit = session.replies
    assert daily_time == "I'll close your day at 21:15 your time.\n"
    assert voice == "I'll send every answer also as speech.\n"
    assert bad_date == "I can't read 'next week' as a date. Give a date as YYYY-MM-DD, or today / yesterday.\n"
    assert nothing.startswith("No messages on ") and nothing.endswith(": nothing to summarise.\n")
    assert openai_fake.chat_requests() == [], "commands never reach the model"
    assert session.returncode == 0 and session.stderr == ""


def test_settings_alone_shows_every_saved_value_in_the_terminal_syntax(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    session = chat(
        openai_fake,
        tmp_path,
        "/settings daily-time 21:15",
        "/settings voice on",
        "/settings daily-platform slack",
        "/settings",
    )

    _time, _voice, platform, shown, _at_exit = session.replies
    assert (
        platform == "No chat platform (Discord or Slack) is configured on this assistant to take the daily summary.\n"
    )
    lines = shown.splitlines()
    assert "Your time zone is Europe/Paris. Change it with /settings timezone Europe/Paris (any IANA name)." in lines
    assert "I close your day at 21:15 your time. Change it with /settings daily-time 22:30 (or off)." in lines
    assert "Every answer also comes as speech. Turn it off with /settings voice off." in lines
    assert "Links in my answers show no previews. Turn them on with /settings previews on." in lines
    assert "timezone:" not in shown and "daily_time:" not in shown, "Discord's syntax is not shown in the terminal"
    assert openai_fake.chat_requests() == [], "commands never reach the model"
    assert session.returncode == 0 and session.stderr == ""


def test_leaving_waits_for_memory_then_memory_lists_and_forgets(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    extraction_answers(openai_fake, delay=1.5)
    openai_fake.queue(Reply("How lovely."))
    started = time.monotonic()

    first = chat(openai_fake, tmp_path, "my sister is called Grace", MEMORY_EXTRACTION="true")

    assert time.monotonic() - started >= 1.5, "leaving waited for the extraction"
    answer, at_exit = first.replies
    assert answer == ASSISTANT + "How lovely.\n"
    assert at_exit == FINISHING, "one line while it finishes, nothing after"
    assert "cancelling" not in first.log
    assert first.returncode == 0 and first.stderr == ""

    second = chat(openai_fake, tmp_path, "/memory", "/memory forget 1", "/memory", MEMORY_EXTRACTION="true")

    listed, forgot, empty, _at_exit = second.replies
    assert listed.splitlines()[0] == "What I remember about you (newest first):"
    assert MEMORY_LINE.search(listed), listed
    assert listed.splitlines()[-1] == "Delete one with /memory forget <n>."
    assert "Grace" in forgot
    assert empty == "I don't remember anything about you yet.\n"
    assert second.returncode == 0 and second.stderr == ""
    second.assert_no_secret_or_traceback()


def test_forget_me_removes_saved_files_and_cached_day_pdfs_and_says_what_stays(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.queue(ToolCalls([("make_image", {"prompt": "a red boat"})]), Reply("Here is your boat."))
    first = chat(openai_fake, tmp_path, "draw me a red boat")
    picture = saved_file(first.replies[0])
    assert picture.parent == first.data_dir / "files" / "tester" and picture.is_file()
    cached = first.data_dir / "daily" / "1" / "2026-11-23.pdf"  # a day PDF left by a render that was cut short
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"%PDF-1.7 the whole day")

    second = chat(openai_fake, tmp_path, "/forget-me confirm:DELETE")

    deleted = second.replies[0]
    assert deleted.startswith("Done: everything I stored about you is deleted.")
    assert "What stays: the messages Discord or Slack still show" in deleted
    assert "my answers in threads other people started" in deleted
    assert "backups the bot's owner made before now" in deleted, "a copy in data/backups is said, not hidden"
    assert not picture.exists() and not picture.parent.exists()
    assert not cached.exists() and not cached.parent.exists()
    assert second.returncode == 0 and second.stderr == ""


def test_a_second_ctrl_c_skips_the_wait_at_leaving(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    extraction_answers(openai_fake, delay=60)  # longer than the 10 s the stop would wait
    running = Running(openai_fake, tmp_path, MEMORY_EXTRACTION="true")

    running.type("my sister is called Grace")
    running.until(lambda screen: screen.count(PROMPT) == 2, "the answer, then the prompt")
    assert running.process.stdin is not None
    running.process.stdin.close()  # Ctrl-D
    running.until(lambda screen: screen.endswith(FINISHING), "the line saying it finishes up")
    asked = time.monotonic()
    running.process.send_signal(signal.SIGINT)
    returncode = running.process.wait(timeout=30)
    running.reader.join(timeout=10)
    stderr = running.process.stderr.read().decode()  # type: ignore[union-attr]

    assert time.monotonic() - asked < 8, "skipped, not waited out"
    assert returncode == 0 and stderr == "", stderr
    assert running.text.endswith(PROMPT + "\n" + FINISHING + "skipped.\n")
    assert "Traceback" not in running.text
    log = (running.data_dir / "captainslog.log").read_text(encoding="utf-8")
    assert "cancelling 1 background tasks still running at stop" in log, "the extraction, counted before cancelling"


def test_a_day_missed_is_posted_when_the_chat_starts(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    now = datetime.now(PARIS)
    if now.hour == 0 and now.minute < 3:
        pytest.skip("the end of day has to fall on today, after midnight")
    closed = (now - timedelta(minutes=1)).strftime("%H:%M")  # today ended a minute ago
    openai_fake.queue(Reply("Fair winds."))
    first = chat(openai_fake, tmp_path, "we rigged the mainsail today")
    assert first.replies[0] == ASSISTANT + "Fair winds.\n"
    openai_fake.queue(Reply("A day of rigging the mainsail."))

    running = Running(openai_fake, tmp_path, DAILY_SUMMARY_TIME=closed)
    running.until(lambda screen: "file saved: " in screen and screen.endswith("\n"), "the day's post")
    assert running.process.stdin is not None
    running.process.stdin.close()
    returncode = running.process.wait(timeout=30)
    running.reader.join(timeout=10)

    day = now.date()
    assert returncode == 0, running.process.stderr.read().decode()  # type: ignore[union-attr]
    assert f"{ASSISTANT}Your day, {long_date(day)}\n" in running.text  # the post's heading, in bold on a terminal
    assert "**" not in running.text
    assert "A day of rigging the mainsail." in running.text
    path = saved_file(running.text)
    assert path.name == f"{day.isoformat()} CaptainsLog.pdf" and pdf_text(path).startswith(long_date(day))
    with sqlite3.connect(running.data_dir / "captainslog.db") as connection:
        states = connection.execute("SELECT state FROM daily_logs").fetchall()
    assert states == [("posted",)]
