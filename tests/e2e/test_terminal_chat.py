"""The program as a user runs it: ``python -m bot chat|doctor|run|migrate`` in a subprocess.

Each test starts the real program with a clean environment (the key, the fake
OpenAI server's URL and a fresh ``DATA_DIR``; nothing inherited, no ``.env``),
types lines on its stdin and reads what it printed.  The program talks through
the real ``openai`` client to the fake OpenAI server that runs in this test
process (tests/fakes/openai_server.py) and keeps its conversation in the
embedded SQLite database under ``DATA_DIR``.

Starting the program costs a couple of seconds of imports, so the commands that
need no scripted model answers are all started together when this module
begins (:func:`other_commands`) and run while the chat tests run one by one.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from migrations import MIGRATIONS_DIR
from tests.fakes.openai_server import Error, FakeOpenAI, Reply, ToolCalls

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-test"  # the key the session's fake server accepts; it must never be printed or logged
WRONG_KEY = "sk-wrong-0123456789abcdef"
PROMPT = "you › "
ASSISTANT = "assistant › "
STAMP = re.compile(r"^\w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T ")  # "Tue 2026-11-24 14:03 CET "
LOG_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO) ")
UNREACHABLE = "⚠ The model service cannot be reached; check OPENAI_BASE_URL and the network.\n"

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

        The chat prints ``you › `` before reading each line and the line read after it (a
        transcript of piped input shows what was typed), so the text between two prompts,
        less its first line, is the response to one line.
        """
        return replies_in(self.stdout)

    @property
    def problems(self) -> list[str]:
        """The lines on stderr meant for the user (informational log records left out)."""
        return [line for line in self.stderr.splitlines() if line.strip() and not LOG_RECORD.match(line)]

    @property
    def log(self) -> str:
        """The log file (``DATA_DIR/captainslog.log``), empty if it was not written."""
        path = self.data_dir / "captainslog.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def assert_no_secret_or_traceback(self, secret: str = API_KEY) -> None:
        """Neither the screen nor the log shows the API key, and the screen shows no traceback."""
        for where, text in (("stdout", self.stdout), ("stderr", self.stderr), ("the log file", self.log)):
            assert secret not in text, f"the API key leaked into {where}"
        assert "Traceback" not in self.stdout + self.stderr


def replies_in(screen: str) -> list[str]:
    """What followed each ``you › <typed line>`` of a transcript, in order."""
    return [part.partition("\n")[2] for part in screen.split(PROMPT)[1:]]


def environment(data_dir: Path, **overrides: str | None) -> dict[str, str]:
    """A clean environment for the program: our settings only; an override of ``None`` removes one."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        PYTHONIOENCODING="utf-8",
        COLUMNS="200",  # rich would otherwise wrap /history lines at 80 columns
        DATA_DIR=str(data_dir),
        DEFAULT_TIMEZONE="Europe/Paris",
        TERMINAL_USER="tester",
        OPENAI_API_KEY=API_KEY,
        # Extraction asks the model after each answer and would take the replies scripted for the chat;
        # long-term memory has its own tests.
        MEMORY_EXTRACTION="false",
        # The chat runs the daily log: a second run after the end of day would summarise the first's
        # messages with a scripted reply. Its own tests turn it on.
        DAILY_SUMMARY_TIME="off",
        WEB_PORT="0",  # the web app runs beside the chat: on a free port, never one another test holds
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_bot(command: str, workdir: Path, *, lines: Sequence[str] = (), **env: str | None) -> Session:
    """Run ``python -m bot <command>`` in ``workdir`` (``DATA_DIR`` is ``workdir/data``),
    type ``lines``, then close stdin as Ctrl-D would."""
    data_dir = workdir / "data"
    result = subprocess.run(
        [sys.executable, "-m", "bot", *command.split()],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=environment(data_dir, **env),
        timeout=60,
    )
    return Session(result.returncode, result.stdout, result.stderr, data_dir)


def chat(fake: FakeOpenAI, workdir: Path, *lines: str, **env: str | None) -> Session:
    """A terminal chat session against the fake server: type ``lines``, then leave."""
    env.setdefault("OPENAI_BASE_URL", fake.base_url)
    return run_bot("chat --transcript", workdir, lines=lines, **env)


def user_texts(messages: list[dict]) -> list[str]:
    """The user messages of a model request, without their time stamps."""
    return [m["content"].split("]\n", 1)[1] for m in messages if m["role"] == "user"]


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def newest_revision() -> str:
    """The head revision of the Alembic migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory (no .env); the program's ``DATA_DIR`` is ``./data`` in it."""
    return tmp_path


@pytest.fixture(scope="module", autouse=True)
def other_commands(
    _openai_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Session]]]:
    """Runs that need no scripted model answer, all started at once when the module begins.

    Doctor only lists models (never a chat completion), and the other runs do not
    reach the fake at all, so they cannot disturb the chat tests' scripted answers.
    """

    def fresh_dir(name: str) -> Path:
        return tmp_path_factory.mktemp(name)

    unreachable = f"http://127.0.0.1:{closed_port()}/v1"
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = {
            "doctor": pool.submit(run_bot, "doctor", fresh_dir("doctor"), OPENAI_BASE_URL=_openai_server.base_url),
            "doctor with a wrong key": pool.submit(
                run_bot,
                "doctor",
                fresh_dir("doctor-wrong-key"),
                OPENAI_BASE_URL=_openai_server.base_url,
                OPENAI_API_KEY=WRONG_KEY,
            ),
            "chat without a key": pool.submit(
                run_bot, "chat --transcript", fresh_dir("no-key"), lines=["hello"], OPENAI_API_KEY=None
            ),
            "chat with an unreachable endpoint": pool.submit(
                run_bot,
                "chat --transcript",
                fresh_dir("unreachable"),
                lines=["hello?", "still there?"],
                OPENAI_BASE_URL=unreachable,
                OPENAI_MAX_RETRIES="0",
            ),
            "migrate": pool.submit(run_bot, "migrate", fresh_dir("migrate")),
        }
        yield runs


# -- chatting ----------------------------------------------------------------------------


def test_a_first_session_help_then_a_streamed_answer(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Good morning! The kettle is on."))

    session = chat(openai_fake, workdir, "/help", "/nonsense", "good morning")

    help_text, unknown, answer, _at_exit = session.replies
    assert session.stdout.startswith("CaptainsLog — type a message, or /help. Ctrl-D to leave.\n")
    assert help_text.startswith("Commands:\n")
    own, core = help_text.split("The assistant's commands, as on Discord and Slack:\n")
    assert [line.split()[0] for line in own.splitlines()[1:]] == [
        "/new",
        "/history",
        "/forget",
        "/tz",
        "/help",
        "/quit",
    ]
    # The core's commands the terminal does not answer itself (its /new, /forget and /help come first).
    assert [line.split()[0] for line in core.splitlines()] == [
        "/image",
        "/settings",
        "/signout",
        "/account",
        "/export",
        "/summary",
        "/speak",
        "/reminders",
        "/memory",
        "/forget-me",
        "/export-data",
    ]
    assert unknown == "Unknown command /nonsense; /help lists them.\n"
    assert answer == ASSISTANT + "Good morning! The kettle is on.\n"
    assert len(openai_fake.chat_requests()) == 1, "commands never reach the model"
    assert user_texts(openai_fake.last_messages()) == ["good morning"]
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_piped_in_and_out_prints_only_the_answers(openai_fake: FakeOpenAI, workdir: Path) -> None:
    # `echo … | captainslog chat > answers.txt`: no banner, no prompts, no labels in the file.
    openai_fake.queue(Reply("Bonjour."), Reply("Au revoir."))

    session = run_bot(
        "chat", workdir, lines=["say hello in French", "and goodbye"], OPENAI_BASE_URL=openai_fake.base_url
    )

    assert session.returncode == 0 and session.stderr == "", session.stderr
    assert session.stdout == "Bonjour.\nAu revoir.\n"


def test_piped_out_keeps_long_lines_whole_and_what_is_happening_on_stderr(
    openai_fake: FakeOpenAI, workdir: Path
) -> None:
    # `captainslog chat > answer.txt`: the file holds the answer as written; "… calculating" is not the answer.
    long_line = " ".join(["all hands on deck"] * 12)  # 215 characters, one line
    openai_fake.queue(ToolCalls([("calculate", {"expression": "6 * 7"})]), Reply(long_line))

    session = run_bot(
        "chat", workdir, lines=["what is six times seven?"], OPENAI_BASE_URL=openai_fake.base_url, COLUMNS=None
    )

    assert session.returncode == 0
    assert session.stdout == long_line + "\n"
    assert [line.startswith("… ") for line in session.problems] == [True], session.stderr


def test_a_transcript_of_piped_input_shows_what_was_typed(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Bonjour."))

    session = chat(openai_fake, workdir, "say hello in French")

    lines = session.stdout.splitlines()
    typed = lines.index(PROMPT + "say hello in French")  # after the banner and the web app's address
    assert lines[typed + 1] == ASSISTANT + "Bonjour."


def test_an_empty_allowed_accounts_keeps_the_terminal_out_too(openai_fake: FakeOpenAI, workdir: Path) -> None:
    session = chat(openai_fake, workdir, "hello", ALLOWED_ACCOUNTS="")

    assert "private" in session.replies[0], session.stdout
    assert openai_fake.chat_requests() == [], "the model never sees a refused message"


def test_a_tool_call_shows_what_is_happening_then_the_answer(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(
        ToolCalls([("calculate", {"expression": "1234 * 5678"})], text="Let me work that out."),
        Reply("It is 7,006,652."),
    )

    session = chat(openai_fake, workdir, "what is 1234 times 5678?")

    answer = session.replies[0]
    assert answer.startswith(ASSISTANT + "Let me work that out.\n… Calculating…\n")
    assert answer.rstrip().endswith("It is 7,006,652.")
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


def test_signout_of_a_terminal_that_never_signed_in_keeps_everything(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Noted, Ada."), Reply("You are Ada."))

    first = chat(openai_fake, workdir, "/settings name Ada Lovelace", "my name is Ada", "/signout")
    second = chat(openai_fake, workdir, "who am I?", "/history", "/settings")

    assert "nothing to sign out of" in first.replies[2]
    history = second.replies[1]
    assert "I call you Ada Lovelace." in second.replies[2], "the name saved before /signout is still yours"
    # Still the same person and the same conversation: the model sees the earlier turn, /history shows it.
    assert user_texts(openai_fake.last_messages()) == ["my name is Ada", "who am I?"]
    assert [STAMP.sub("", line) for line in history.splitlines()] == [
        "you: my name is Ada",
        "assistant: Noted, Ada.",
        "you: who am I?",
        "assistant: You are Ada.",
    ]


def test_new_starts_a_clean_context(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Boats float."), Reply("Trains roll."))

    session = chat(openai_fake, workdir, "let us talk about boats", "/new", "let us talk about trains", "/history")

    boats, started, trains, history, _at_exit = session.replies
    assert (boats, trains) == (ASSISTANT + "Boats float.\n", ASSISTANT + "Trains roll.\n")
    assert started == "Started a new conversation.\n"
    assert user_texts(openai_fake.last_messages()) == ["let us talk about trains"]
    assert [STAMP.sub("", line) for line in history.splitlines()] == [
        "you: let us talk about trains",
        "assistant: Trains roll.",
    ]


def test_a_model_failure_is_one_line_and_the_chat_goes_on(openai_fake: FakeOpenAI, workdir: Path) -> None:
    # The client retries a 500 twice (its default) before giving up: three failures in a row.
    openai_fake.queue(Error(500, "upstream exploded"), Error(500), Error(500), Reply("I am back."))

    session = chat(openai_fake, workdir, "are you there?", "and now?", "/history")

    failed, recovered, history, _at_exit = session.replies
    assert failed == ASSISTANT + "\n⚠ The model service failed (HTTP 500); try again shortly.\n"
    assert recovered == ASSISTANT + "I am back.\n"
    assert len(openai_fake.chat_requests()) == 4
    assert "you: are you there?" in history, "the question is kept even though the model failed"
    assert "assistant (failed: The model service failed (HTTP 500); try again shortly.): \n" in history, (
        "with its reason"
    )
    assert "upstream exploded" not in session.stdout
    assert "model call failed" in session.log, "the owner finds the failure in the log"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_an_unreachable_model_endpoint_is_one_clear_line(other_commands: dict[str, Future[Session]]) -> None:
    session = other_commands["chat with an unreachable endpoint"].result()

    hello, still_there, _at_exit = session.replies
    assert hello == ASSISTANT + "\n" + UNREACHABLE
    assert still_there == ASSISTANT + "\n" + UNREACHABLE, "the chat keeps going"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_a_missing_api_key_stops_with_one_clear_line(other_commands: dict[str, Future[Session]]) -> None:
    session = other_commands["chat without a key"].result()

    assert session.returncode == 2
    assert len(session.problems) == 1
    assert session.problems[0].startswith("captainslog: OPENAI_API_KEY is not set")
    # Started in a folder without a .env (the usual reason): it says so.
    assert session.problems[0].endswith(
        f"There is no .env in {session.data_dir.parent}: run captainslog from its folder."
    )
    assert PROMPT not in session.stdout, "the chat never started"
    assert "Traceback" not in session.stdout + session.stderr
    assert not session.data_dir.exists(), "a failed start leaves no data folder or log file behind"


# -- the other commands ------------------------------------------------------------------


def test_doctor_checks_settings_database_and_endpoint(
    other_commands: dict[str, Future[Session]], openai_fake: FakeOpenAI
) -> None:
    session = other_commands["doctor"].result()

    lines = session.stdout.splitlines()
    assert session.returncode == 0, session.stdout + session.stderr
    assert lines and all(line.startswith("✓ ") for line in lines)
    assert "✓ settings loaded (time zone Europe/Paris)" in lines
    database = (session.data_dir / "captainslog.db").resolve()
    assert f"✓ no database yet at {database}: it is created at first start" in lines
    assert not session.data_dir.exists(), "doctor only looks: it creates no database"
    assert f"✓ model endpoint {openai_fake.base_url} answers (5 models served)" in lines
    assert "no chat platform configured" in lines[-1]
    session.assert_no_secret_or_traceback()


def test_doctor_with_a_wrong_key_says_so(other_commands: dict[str, Future[Session]]) -> None:
    session = other_commands["doctor with a wrong key"].result()

    failed = [line for line in session.stdout.splitlines() if line.startswith("✗ ")]
    assert session.returncode == 1
    assert len(failed) == 1 and "OPENAI_API_KEY" in failed[0]
    session.assert_no_secret_or_traceback(WRONG_KEY)


def test_migrate_creates_the_schema_on_a_fresh_database(other_commands: dict[str, Future[Session]]) -> None:
    session = other_commands["migrate"].result()

    database = session.data_dir / "captainslog.db"
    assert session.returncode == 0, session.stderr
    assert session.stdout == f"Database sqlite+aiosqlite:///{database} is up to date.\n"
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"users", "identities", "conversations", "messages"} <= tables
    assert version == [(newest_revision(),)]
    assert session.problems == []
    session.assert_no_secret_or_traceback()


# -- bad input ---------------------------------------------------------------------------

NOT_A_COUNT = (
    "“{}” is not a number of messages: give one from 1 to 200, e.g. /history 50 (just /history shows the last 20).\n"
)


def test_history_takes_a_count_from_1_to_200_and_tz_any_case(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Noted."))
    odd_counts = ["²", "99999999999999999999999", "abc", "-3", "0", "201"]

    session = chat(
        openai_fake,
        workdir,
        "remember the milk",
        *(f"/history {count}" for count in odd_counts),
        "/history 1",
        "/tz america/new_york",
        "/tz",
    )

    _answer, *refused, one, tz_set, tz_shown, _at_exit = session.replies
    assert refused == [NOT_A_COUNT.format(count) for count in odd_counts]
    assert [STAMP.sub("", line) for line in one.splitlines()] == ["assistant: Noted."]
    assert tz_set == "Time zone set to America/New_York.\n"
    assert tz_shown == "Your time zone is America/New_York.\n"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_escape_sequences_are_shown_not_obeyed(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("\x1b[2J\x1b]0;owned\x07 Cleared?"))

    session = chat(openai_fake, workdir, "say \x1b[31mred\x1b[0m please", "/history")

    answer, history, _at_exit = session.replies
    assert "\x1b" not in session.stdout and "\x07" not in session.stdout
    assert answer == ASSISTANT + "␛[2J␛]0;owned␇ Cleared?\n"
    assert [STAMP.sub("", line) for line in history.splitlines()] == [
        "you: say ␛[31mred␛[0m please",
        "assistant: ␛[2J␛]0;owned␇ Cleared?",
    ]
    assert user_texts(openai_fake.last_messages()) == ["say \x1b[31mred\x1b[0m please"], "stored as typed"
    session.assert_no_secret_or_traceback()


def test_invalid_utf8_on_stdin_is_replaced_not_a_crash(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Café it is."))
    data_dir = workdir / "data"

    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--transcript"],
        input=b"caf\xe9 au lait\n/what\xff\xfe\n",
        capture_output=True,
        cwd=workdir,
        env=environment(data_dir, OPENAI_BASE_URL=openai_fake.base_url),
        timeout=60,
    )
    session = Session(result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8"), data_dir)

    answer, unknown, _at_exit = session.replies
    assert answer == ASSISTANT + "Café it is.\n"
    assert user_texts(openai_fake.last_messages()) == ["caf\ufffd au lait"]
    assert unknown == "Unknown command /what\ufffd\ufffd; /help lists them.\n"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


def test_an_unexpected_error_is_one_line_and_the_chat_goes_on(openai_fake: FakeOpenAI, workdir: Path) -> None:
    openai_fake.queue(Reply("Hello."))
    first = chat(openai_fake, workdir, "hello")
    with sqlite3.connect(first.data_dir / "captainslog.db") as connection:
        connection.execute("DROP TABLE identities")  # the database breaks under the running program

    session = chat(openai_fake, workdir, "hello again", "/help")

    failed, help_text, _at_exit = session.replies
    assert failed == ASSISTANT + "\n⚠ Something went wrong with that (OperationalError); the details are in the log.\n"
    assert help_text.startswith("Commands:\n"), "the chat goes on"
    assert "Traceback" in session.log and "no such table: identities" in session.log, "the details are in the log"
    assert session.returncode == 0 and session.stderr == ""
    session.assert_no_secret_or_traceback()


# -- Ctrl-C --------------------------------------------------------------------------------


class Running:
    """The chat running in the background; its screen fills in as it prints."""

    def __init__(self, fake: FakeOpenAI, workdir: Path, **env: str | None) -> None:
        self.data_dir = workdir / "data"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "chat", "--transcript"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=environment(self.data_dir, OPENAI_BASE_URL=fake.base_url, **env),
        )
        self.screen = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for chunk in iter(lambda: self.process.stdout.read1(4096), b""):  # type: ignore[union-attr]
            self.screen += chunk

    @property
    def text(self) -> str:
        return self.screen.decode("utf-8", errors="replace")

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def until(self, condition: Callable[[str], bool], what: str) -> None:
        """Wait until the screen shows something (the limit only turns a hang into a failure)."""
        for _ in range(3000):
            if condition(self.text):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        raise AssertionError(f"never happened: {what}; the screen shows {self.text!r}")


def test_ctrl_c_stops_an_answer_then_leaves_at_the_prompt(openai_fake: FakeOpenAI, workdir: Path) -> None:
    story = " ".join(f"word{n}" for n in range(400))
    # Only the story is scripted: after-answer steps may call the model too, and get the fake's echo.
    openai_fake.queue(Reply(story, delay=0.05))
    chat = Running(openai_fake, workdir)

    chat.type("tell me a long story")
    chat.until(lambda screen: "word3" in screen, "the story starts")
    chat.process.send_signal(signal.SIGINT)
    chat.until(lambda screen: "Stopped." in screen, "the answer stops")
    chat.type("are you there?")
    chat.until(lambda screen: screen.count(PROMPT) == 3 and screen.endswith(PROMPT), "the next answer, then the prompt")
    chat.process.send_signal(signal.SIGINT)
    returncode = chat.process.wait(timeout=60)
    chat.reader.join(timeout=10)
    stderr = chat.process.stderr.read().decode()  # type: ignore[union-attr]

    assert returncode == 0 and stderr == "", stderr
    assert chat.text.endswith("\n" + PROMPT + "\n"), "the shell's prompt gets a line of its own"
    stopped, still_here, _at_exit = replies_in(chat.text)
    assert stopped.startswith(ASSISTANT + "word0 word1 word2 word3")
    assert stopped.endswith("\n⏹ Stopped. What was written so far is kept (partial) in /history.\n")
    assert still_here.startswith(ASSISTANT + "You said: ") and still_here.endswith("are you there?\n")
    with sqlite3.connect(chat.data_dir / "captainslog.db") as connection:
        answers = connection.execute(
            "SELECT status, content FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    assert [status for status, _ in answers] == ["partial", "complete"]
    assert answers[0][1].startswith("word0 word1 word2 word3") and "word399" not in answers[0][1]
