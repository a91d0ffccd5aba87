"""The terminal chat as a user runs it: ``python -m bot chat|doctor|migrate`` in a subprocess.

Each test (tests/e2e/terminal_chat/) starts the real program with a clean environment (the key, the fake
OpenAI server's URL and a fresh ``DATA_DIR``; nothing inherited, no ``.env``), types lines on its stdin and
reads what it printed. The program talks through the real ``openai`` client to the fake OpenAI server that
runs in the test process (tests/fakes/openai_server.py) and keeps its conversation in the embedded SQLite
database under ``DATA_DIR``.

Starting the program costs a couple of seconds of imports, so runs that need no scripted model answers are
started together when their module begins (:func:`started_together`) and run while the chat tests run one
by one.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from migrations import MIGRATIONS_DIR
from tests.fakes.openai_server import FakeOpenAI

REPO_ROOT = Path(__file__).resolve().parents[1]
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


def started_together(runs: dict[str, Callable[[], Session]]) -> Iterator[dict[str, Future[Session]]]:
    """Start ``runs`` at once, in threads; yields their futures by name (for a module fixture).

    Only runs that never take a scripted model answer belong here: they run while the module's other tests
    script theirs."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {name: pool.submit(run) for name, run in runs.items()}
