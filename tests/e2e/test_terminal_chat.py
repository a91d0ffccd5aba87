"""The terminal chat as a user runs it: ``python -m bot chat`` in a subprocess.

Each test starts the real program with a clean environment (the key, the fake
OpenAI server's URL and a fresh ``DATA_DIR``, nothing inherited), types lines on
its stdin and reads what it printed.  The program talks to the fake OpenAI
server that runs in this test process (tests/fakes/openai_server.py) through
the real ``openai`` client, and keeps its conversation in the embedded SQLite
database under ``DATA_DIR``.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from migrations import MIGRATIONS_DIR

from tests.fakes.openai_server import Error, FakeOpenAI, Reply, ToolCalls

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-test"  # the key the session's fake server accepts; it must never be printed or logged
PROMPT = "you › "
ASSISTANT = "assistant › "
STAMP = re.compile(r"^\w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T ")  # "Tue 2026-11-24 14:03 CET "

# Only what a Python process needs to start; everything else (OPENAI_*, DISCORD_*,
# SLACK_*, DATABASE_URL, LOG_LEVEL, colour settings ...) is left behind on purpose.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


@dataclass
class Session:
    """What one run of the program showed the user."""

    returncode: int
    stdout: str
    stderr: str
    data_dir: Path

    @property
    def replies(self) -> list[str]:
        """What the program printed after each line the user typed, in order.

        The program prints ``you › `` before reading each line, so the text between
        two prompts is the response to one line.
        """
        return self.stdout.split(PROMPT)[1:]

    @property
    def log(self) -> str:
        """The chat's log file (``DATA_DIR/captainslog.log``), empty if it was not written."""
        path = self.data_dir / "captainslog.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def assert_no_secret_or_traceback(self, secret: str = API_KEY) -> None:
        """Neither the screen nor the log shows the API key, and the screen shows no traceback."""
        for where, text in (("stdout", self.stdout), ("stderr", self.stderr), ("log file", self.log)):
            assert secret not in text, f"the API key leaked into {where}"
        assert "Traceback" not in self.stdout + self.stderr


def environment(data_dir: Path, **overrides: str | None) -> dict[str, str]:
    """A clean environment for the program: our settings only, ``None`` removes one."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        PYTHONIOENCODING="utf-8",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",  # rich would otherwise wrap /history lines at 80 columns
        DATA_DIR=str(data_dir),
        DEFAULT_TIMEZONE="Europe/Paris",
        TERMINAL_USER="tester",
        OPENAI_API_KEY=API_KEY,
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_bot(
    command: str, workdir: Path, *, lines: Sequence[str] = (), data_dir: Path | None = None, **env: str | None
) -> Session:
    """Run ``python -m bot <command>`` in ``workdir``, type ``lines``, then close stdin (Ctrl-D)."""
    data = data_dir or workdir / "data"
    result = subprocess.run(
        [sys.executable, "-m", "bot", command],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=environment(data, **env),
        timeout=60,
    )
    return Session(result.returncode, result.stdout, result.stderr, data)


def chat(fake: FakeOpenAI, workdir: Path, *lines: str, **env: str | None) -> Session:
    """A terminal chat session against the fake server: type ``lines``, then leave."""
    env.setdefault("OPENAI_BASE_URL", fake.base_url)
    return run_bot("chat", workdir, lines=lines, **env)


def user_texts(messages: list[dict]) -> list[str]:
    """The user messages a model request carried, without their time stamps."""
    return [m["content"].split("] ", 1)[1] for m in messages if m["role"] == "user"]


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory (no .env), with ``DATA_DIR`` at ``./data``."""
    return tmp_path


# -- chatting ----------------------------------------------------------------------------


def test_a_message_gets_the_streamed_answer(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Good morning! The kettle is on."))

    session = chat(openai_fake, workdir, "good morning")

    assert session.returncode == 0
    assert session.stdout.startswith("CaptainsLog — type a message, or /help.")
    assert session.replies[0] == ASSISTANT + "Good morning! The kettle is on.\n"
    assert user_texts(openai_fake.last_messages()) == ["good morning"]
    assert session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_a_tool_call_shows_what_is_happening_then_the_answer(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(
        ToolCalls([("calculate", {"expression": "1234 * 5678"})], text="Let me work that out."),
        Reply("It is 7,006,652."),
    )

    session = chat(openai_fake, workdir, "what is 1234 times 5678?")

    reply = session.replies[0]
    assert reply.startswith(ASSISTANT + "Let me work that out.\n… Calculating…\n")
    assert reply.rstrip().endswith("It is 7,006,652.")
    tool_result = openai_fake.last_messages()[-1]
    assert tool_result["role"] == "tool" and tool_result["content"] == "1234 * 5678 = 7006652"
    session.assert_no_secret_or_traceback()


def test_the_conversation_survives_a_restart(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Nice to meet you, Ada."), Reply("Your name is Ada."))

    first = chat(openai_fake, workdir, "my name is Ada")
    second = chat(openai_fake, workdir, "what is my name?", "/history")

    assert first.replies[0] == ASSISTANT + "Nice to meet you, Ada.\n"
    assert second.replies[0] == ASSISTANT + "Your name is Ada.\n"
    seen = openai_fake.last_messages()
    assert user_texts(seen) == ["my name is Ada", "what is my name?"]
    assert any("Nice to meet you, Ada." in m["content"] for m in seen if m["role"] == "assistant")
    history = second.replies[1].splitlines()
    assert all(STAMP.match(line) for line in history), "each line starts with its local time"
    assert [STAMP.sub("", line) for line in history] == [
        "you: my name is Ada",
        "assistant: Nice to meet you, Ada.",
        "you: what is my name?",
        "assistant: Your name is Ada.",
    ]
    for session in (first, second):
        session.assert_no_secret_or_traceback()


def test_new_starts_a_clean_context(openai_fake: FakeOpenAI, workdir: Path) -> None:
    session = chat(openai_fake, workdir, "let us talk about boats", "/new", "let us talk about trains", "/history")

    assert session.replies[0] == ASSISTANT + "You said: let us talk about boats\n"
    assert session.replies[1] == "Started a new conversation.\n"
    assert user_texts(openai_fake.last_messages()) == ["let us talk about trains"]
    assert "boats" not in session.replies[3], "/history shows the new conversation only"
    assert "you: let us talk about trains" in session.replies[3]


def test_help_lists_the_commands(openai_fake: FakeOpenAI, workdir: Path) -> None:
    session = chat(openai_fake, workdir, "/help", "/nonsense")

    listed = [line.split()[0] for line in session.replies[0].splitlines()[1:]]
    assert session.replies[0].startswith("Commands:\n")
    assert listed == ["/new", "/history", "/forget", "/tz", "/help", "/quit"]
    assert session.replies[1] == "Unknown command /nonsense; /help lists them.\n"
    assert openai_fake.chat_requests() == [], "commands never reach the model"


def test_a_model_failure_is_one_line_and_the_chat_goes_on(openai_fake: FakeOpenAI, workdir: Path) -> None:
    # The client retries a 500 twice (its default) before giving up: three failures in a row.
    openai_fake.queue(Error(500, "upstream exploded"), Error(500), Error(500), Reply("I am back."))

    session = chat(openai_fake, workdir, "are you there?", "and now?")

    assert session.replies[0] == ASSISTANT + "\n⚠ The model service failed (HTTP 500); try again shortly.\n"
    assert session.replies[1] == ASSISTANT + "I am back.\n"
    assert len(openai_fake.chat_requests()) == 4
    assert session.returncode == 0
    assert "model call failed" in session.log, "the failure is logged for the owner"
    assert "upstream exploded" not in session.stdout
    session.assert_no_secret_or_traceback()


def test_an_unreachable_model_endpoint_is_one_clear_line(openai_fake: FakeOpenAI, workdir: Path) -> None:
    session = chat(
        openai_fake, workdir, "hello?", "still there?",
        OPENAI_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1", OPENAI_MAX_RETRIES="0",
    )

    unreachable = "⚠ The model service cannot be reached; check OPENAI_BASE_URL and the network.\n"
    assert session.replies[0] == ASSISTANT + "\n" + unreachable
    assert session.replies[1] == ASSISTANT + "\n" + unreachable, "the chat keeps going"
    assert session.returncode == 0
    assert session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_a_missing_api_key_stops_with_one_clear_line(workdir: Path) -> None:
    session = run_bot("chat", workdir, lines=["hello"], OPENAI_API_KEY=None, OPENAI_BASE_URL=None)

    assert session.returncode == 2
    problem = session.stderr.strip().splitlines()
    assert len(problem) == 1 and problem[0].startswith("captainslog: OPENAI_API_KEY is not set")
    assert "Traceback" not in session.stdout + session.stderr
    assert PROMPT not in session.stdout, "the chat never started"


# -- the other commands ------------------------------------------------------------------


def test_doctor_checks_everything_against_the_endpoint(openai_fake: FakeOpenAI, workdir: Path) -> None:
    session = run_bot("doctor", workdir, OPENAI_BASE_URL=openai_fake.base_url)

    lines = session.stdout.splitlines()
    assert session.returncode == 0, session.stdout + session.stderr
    assert lines and all(line.startswith("✓ ") for line in lines)
    assert "✓ settings loaded (time zone Europe/Paris)" in lines
    assert any(line.startswith("✓ database sqlite+aiosqlite:///") for line in lines)
    assert f"✓ model endpoint {openai_fake.base_url} answers (1 models)" in lines
    assert "no chat platform configured" in lines[-1]
    session.assert_no_secret_or_traceback()


def test_doctor_with_a_wrong_key_says_so(openai_fake: FakeOpenAI, workdir: Path) -> None:
    wrong = "sk-wrong-0123456789abcdef"
    session = run_bot("doctor", workdir, OPENAI_BASE_URL=openai_fake.base_url, OPENAI_API_KEY=wrong)

    failed = [line for line in session.stdout.splitlines() if line.startswith("✗ ")]
    assert session.returncode == 1
    assert len(failed) == 1 and "OPENAI_API_KEY" in failed[0]
    session.assert_no_secret_or_traceback(wrong)


def test_run_without_a_platform_says_what_to_set(workdir: Path) -> None:
    session = run_bot("run", workdir)

    assert session.returncode == 2
    problem = session.stderr.strip().splitlines()
    assert len(problem) == 1 and problem[0].startswith("captainslog: No chat platform is configured.")
    assert "DISCORD_TOKEN" in problem[0] and "SLACK_BOT_TOKEN" in problem[0]
    assert "Traceback" not in session.stderr


def test_migrate_creates_the_schema_on_a_fresh_database(workdir: Path) -> None:
    session = run_bot("migrate", workdir)

    database = workdir / "data" / "captainslog.db"
    assert session.returncode == 0, session.stderr
    assert session.stdout == f"Database sqlite+aiosqlite:///{database} is up to date.\n"
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"users", "identities", "conversations", "messages"} <= tables
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert version == [(ScriptDirectory.from_config(config).get_current_head(),)]
