"""The bot process as a user runs it (tests/e2e/process/): ``python -m bot ...`` in a subprocess.

Each test runs the program with a clean environment against the Discord, Slack and OpenAI fakes on
loopback, and reads what the process printed. Timeouts here are deadlines against a hang, never speed
assertions. The fixtures below are offered to those tests by tests/e2e/process/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

REPO_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "sk-test"
WRONG_DISCORD = "wrong-discord-token-0123456789"
WRONG_SLACK = "xoxb-wrong-0123456789"
WRONG_APP = "xapp-wrong-0123456789"
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
LOG_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO) ")
DEADLINE = 60.0  # against a hang only (a loaded 2-core machine takes over 20 s to start and end the bot)
T = TypeVar("T")


def environment(workdir: Path, openai_fake: FakeOpenAI, **settings: str) -> dict[str, str]:
    """Only what Python needs plus the given settings: nothing from the machine (no DISCORD_*, SLACK_*)."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        PYTHONIOENCODING="utf-8",
        DATA_DIR=str(workdir / "data"),
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=openai_fake.base_url,
        ALLOWED_ACCOUNTS="discord:*,slack:*",
        CHECKPOINT_INTERVAL="0.1",
        WEB_PORT="0",  # the web app runs beside the bot: on a free port, never one another test holds
    )
    env.update(settings)
    return env


def start(command: str, workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", command],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )


def finish(process: subprocess.Popen[str], *, signal_to_send: int | None = signal.SIGTERM) -> str:
    """Send the signal (if any), wait for the process to end and return everything it printed."""
    if signal_to_send is not None and process.poll() is None:
        process.send_signal(signal_to_send)
    try:
        output, _ = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"the process did not end within {DEADLINE} s of the stop signal:\n{output}")
    return output


def run(command: str, workdir: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run a command that ends by itself; its exit code and output."""
    process = start(command, workdir, env)
    output = finish(process, signal_to_send=None)
    return process.returncode, output


def problems(output: str) -> list[str]:
    """The lines meant for the user: warnings, errors and the final sentence (informational log records left out)."""
    return [line for line in output.splitlines() if line.strip() and not LOG_RECORD.match(line)]


def wait_until(check: Callable[[], T], process: subprocess.Popen[str], timeout: float = DEADLINE) -> T:
    """Poll ``check`` until truthy; fail with the process's output if it ended or the deadline passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if process.poll() is not None or time.monotonic() > deadline:
            output = finish(process)
            pytest.fail(f"condition not met (exit code {process.returncode}):\n{output}")
        time.sleep(0.05)


class SilentServer:
    """A loopback port that accepts connections and never answers: a platform that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def discord_fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def slack_fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def discord_settings(fake: FakeDiscord, token: str | None = None) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": token or fake.bot_token,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
    }


def slack_settings(fake: FakeSlack, bot_token: str | None = None, app_token: str | None = None) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": bot_token or fake.bot_token,
        "SLACK_APP_TOKEN": app_token or fake.app_token,
        "SLACK_API_URL": fake.api_url,
    }


def hanging_discord_settings(silent: SilentServer) -> dict[str, str]:
    """Discord settings whose login waits on ``silent`` for ever (the token: "a-token")."""
    return {
        "DISCORD_TOKEN": "a-token",
        "DISCORD_API_URL": silent.url + "/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{silent.port}/",
    }


def hanging_slack_settings(silent: SilentServer) -> dict[str, str]:
    """Slack settings whose login waits on ``silent`` for ever (the bot token: "xoxb-token")."""
    return {"SLACK_BOT_TOKEN": "xoxb-token", "SLACK_APP_TOKEN": "xapp-token", "SLACK_API_URL": silent.url + "/api/"}


def discord_answer(fake: FakeDiscord, user_id: str) -> str | None:
    """The bot's finished answer in the user's DM, once there is one."""
    channel = fake.dm_channel_id(user_id)
    if channel is None:
        return None
    texts = [m["content"] for m in fake.channel_messages(channel) if m["author"]["id"] == fake.bot_user_id]
    return texts[-1] if texts and "▌" not in texts[-1] else None


def assert_clean(output: str, *secrets: str) -> None:
    assert "Traceback" not in output, output
    assert "Unclosed" not in output, output
    for secret in (API_KEY, *secrets):
        assert secret not in output, "a secret was printed"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An address that accepts connections and never answers (a firewall or a stuck proxy)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
