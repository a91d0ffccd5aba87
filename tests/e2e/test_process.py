"""The bot process as a user runs it: refused tokens, stop signals during start-up, doctor, the command line.

Each test runs ``python -m bot ...`` in a subprocess with a clean environment
against the Discord, Slack and OpenAI fakes on loopback, and reads what the
process printed.  Timeouts here are deadlines against a hang, never speed
assertions.
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

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-test"
WRONG_DISCORD = "wrong-discord-token-0123456789"
WRONG_SLACK = "xoxb-wrong-0123456789"
WRONG_APP = "xapp-wrong-0123456789"
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
LOG_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO) ")
DEADLINE = 20.0  # against a hang only
T = TypeVar("T")


# -- helpers ----------------------------------------------------------------------------


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


# -- refused credentials ------------------------------------------------------------------


def test_a_refused_slack_bot_token_is_one_line_and_discord_keeps_serving(
    discord_fake: FakeDiscord, slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(
        tmp_path, openai_fake, **discord_settings(discord_fake), **slack_settings(slack_fake, bot_token=WRONG_SLACK)
    )
    process = start("run", tmp_path, env)
    try:
        wait_until(lambda: slack_fake.calls("auth.test"), process)
        alice = discord_fake.add_user(name="alice")["id"]
        wait_until(lambda: discord_fake.registered_commands.get("global"), process)
        discord_fake.user_sends_dm(alice, "still there?")
        answer = wait_until(lambda: discord_answer(discord_fake, alice), process)
    finally:
        output = finish(process)

    assert answer == "You said: still there?" or answer.endswith("still there?"), answer
    assert process.returncode == 0, output
    slack_lines = [line for line in problems(output) if "SLACK_BOT_TOKEN" in line]
    assert len(slack_lines) == 1, output
    assert "invalid_auth" in slack_lines[0]
    assert [line for line in problems(output) if "slack" in line.lower()] == slack_lines, output
    assert len(slack_fake.calls("auth.test")) == 1, "a refused token is asked once, never retried"
    assert not slack_fake.calls("apps.connections.open"), "nothing more is tried with a refused bot token"
    assert_clean(output, WRONG_SLACK, discord_fake.bot_token)


def test_a_refused_slack_app_token_alone_ends_the_process_with_one_sentence(
    slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, **slack_settings(slack_fake, app_token=WRONG_APP))

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    lines = problems(output)
    assert len([line for line in lines if "SLACK_APP_TOKEN" in line]) == 1, output
    assert lines[-1] == "captainslog: No chat platform could start; the reason is in the line(s) above.", output
    assert len(slack_fake.calls("apps.connections.open")) == 1, "a refused app token is asked once"
    assert_clean(output, WRONG_APP, slack_fake.bot_token)


def test_a_refused_discord_token_is_one_sentence_with_every_session_closed(
    discord_fake: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, **discord_settings(discord_fake, token=WRONG_DISCORD))

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    lines = problems(output)
    assert len(lines) == 2, output
    assert "Discord refused the token in DISCORD_TOKEN (401 Unauthorized)" in lines[0]
    assert lines[1].startswith("captainslog: No chat platform could start")
    assert_clean(output, WRONG_DISCORD)


def test_discord_out_of_reach_is_one_sentence_with_every_session_closed(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api/v10"
    env = environment(
        tmp_path,
        openai_fake,
        DISCORD_TOKEN=WRONG_DISCORD,
        DISCORD_API_URL=api_url,
        DISCORD_GATEWAY_URL="ws://127.0.0.1:1/",
    )

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    lines = problems(output)
    assert len(lines) == 2, output
    assert f"Discord cannot be reached at {api_url}" in lines[0] and "DISCORD_API_URL" in lines[0]
    assert_clean(output, WRONG_DISCORD)


def test_a_discord_gateway_out_of_reach_is_one_sentence_not_a_retry_loop(
    discord_fake: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = f"ws://127.0.0.1:{closed_port()}/"
    env = environment(tmp_path, openai_fake, **{**discord_settings(discord_fake), "DISCORD_GATEWAY_URL": gateway})

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    assert any(
        line.endswith(f"Discord's gateway cannot be reached at {gateway}; check the network or DISCORD_GATEWAY_URL.")
        for line in problems(output)
    ), output
    assert_clean(output, discord_fake.bot_token)


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


@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_a_platform_that_never_answers_is_said_then_given_up_in_one_sentence(
    platform: str, silent_endpoint: str, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    if platform == "discord":
        api_url = f"{silent_endpoint}/api/v10"
        settings = {"DISCORD_TOKEN": WRONG_DISCORD, "DISCORD_API_URL": api_url}
    else:
        api_url = f"{silent_endpoint}/api/"
        settings = {"SLACK_BOT_TOKEN": WRONG_SLACK, "SLACK_APP_TOKEN": WRONG_APP, "SLACK_API_URL": api_url}
    env = environment(tmp_path, openai_fake, PLATFORM_START_TIMEOUT="3", **settings)

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    waiting = [line for line in output.splitlines() if "still waiting for" in line]
    assert len(waiting) == 1 and api_url in waiting[0], output
    assert any(
        line.endswith("; check the network and that address.") and "Gave up after 3 s waiting for" in line
        for line in problems(output)
    ), output
    assert_clean(output, WRONG_DISCORD, WRONG_SLACK, WRONG_APP)


def test_slack_out_of_reach_is_one_sentence_with_every_session_closed(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api/"
    env = environment(
        tmp_path, openai_fake, SLACK_BOT_TOKEN=WRONG_SLACK, SLACK_APP_TOKEN=WRONG_APP, SLACK_API_URL=api_url
    )

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    lines = problems(output)
    assert len(lines) == 2, output
    assert f"Slack cannot be reached at {api_url}" in lines[0] and "SLACK_API_URL" in lines[0]
    assert_clean(output, WRONG_SLACK, WRONG_APP)


# -- stopping -----------------------------------------------------------------------------


def test_a_hanging_platform_delays_no_other_and_a_stop_signal_during_its_start_ends_the_process(
    slack_fake: FakeSlack, silent: SilentServer, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(
        tmp_path,
        openai_fake,
        DISCORD_TOKEN="a-token",
        DISCORD_API_URL=silent.url + "/api/v10",
        DISCORD_GATEWAY_URL=f"ws://127.0.0.1:{silent.port}/",
        **slack_settings(slack_fake),
    )
    process = start("run", tmp_path, env)
    try:
        wait_until(lambda: silent.connections, process)  # Discord's login hangs from here on
        wait_until(lambda: slack_fake.connected_clients(), process)
        slack_fake.user_sends_dm("U1", "are you up?")
        answer = wait_until(
            lambda: [t for t in slack_fake.texts(slack_fake.dm_channel("U1")) if "▌" not in t and t], process
        )
        assert answer[-1].endswith("are you up?")
        assert process.poll() is None
    finally:
        output = finish(process, signal_to_send=signal.SIGTERM)

    assert process.returncode == 0, output
    assert "discord still starting" in output, output
    assert problems(output) == [], output
    assert_clean(output, slack_fake.bot_token, slack_fake.app_token)


def test_sigint_while_every_platform_hangs_at_start_ends_the_process(
    silent: SilentServer, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(
        tmp_path,
        openai_fake,
        DISCORD_TOKEN="a-token",
        DISCORD_API_URL=silent.url + "/api/v10",
        SLACK_BOT_TOKEN="xoxb-token",
        SLACK_APP_TOKEN="xapp-token",
        SLACK_API_URL=silent.url + "/api/",
    )
    process = start("run", tmp_path, env)
    wait_until(lambda: len(silent.connections) >= 2, process)  # both logins are waiting for an answer

    output = finish(process, signal_to_send=signal.SIGINT)

    assert process.returncode == 0, output
    assert problems(output) == [], output
    assert_clean(output, "a-token", "xoxb-token")


# -- doctor -------------------------------------------------------------------------------


def test_doctor_asks_each_platform_and_names_the_refused_tokens(
    discord_fake: FakeDiscord, slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(
        tmp_path,
        openai_fake,
        **discord_settings(discord_fake, token=WRONG_DISCORD),
        **slack_settings(slack_fake, app_token=WRONG_APP),
    )

    code, output = run("doctor", tmp_path, env)

    assert code == 1, output
    lines = output.splitlines()
    database = (tmp_path / "data" / "captainslog.db").resolve()
    assert f"✓ no database yet at {database}: it is created at first start" in lines, output
    failed = [line for line in lines if line.startswith("✗ ")]
    assert len(failed) == 2, output
    assert failed[0].startswith("✗ Discord refused the token in DISCORD_TOKEN")
    assert failed[1].startswith("✗ Slack refused the token in SLACK_APP_TOKEN (invalid_auth)")
    assert "✓ Slack accepts SLACK_BOT_TOKEN (workspace Fake Workspace)" in lines
    assert len(slack_fake.calls("auth.test")) == 1 and len(slack_fake.calls("apps.connections.open")) == 1
    assert [e.path for e in discord_fake.log] == ["/users/@me"]
    assert_clean(output, WRONG_DISCORD, WRONG_APP, slack_fake.bot_token)


def test_doctor_says_the_platforms_accept_good_tokens(
    discord_fake: FakeDiscord, slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, **discord_settings(discord_fake), **slack_settings(slack_fake))

    code, output = run("doctor", tmp_path, env)

    assert code == 0, output
    lines = output.splitlines()
    assert "✓ Discord accepts DISCORD_TOKEN (bot CaptainsLog)" in lines
    assert "✓ Slack accepts SLACK_APP_TOKEN (Socket Mode)" in lines
    assert_clean(output, discord_fake.bot_token, slack_fake.bot_token, slack_fake.app_token)


# -- the command line and the database URL ---------------------------------------------------


def test_version_and_help_say_what_the_program_does(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    env = environment(tmp_path, openai_fake)
    script = Path(sys.executable).with_name("captainslog")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]

    version = subprocess.run([*command, "--version"], capture_output=True, text=True, env=env, timeout=DEADLINE)
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True, env=env, timeout=DEADLINE)

    assert version.returncode == 0 and re.fullmatch(r"captainslog \S+\n", version.stdout), version.stdout
    assert help_text.returncode == 0
    flat = " ".join(help_text.stdout.split())
    assert flat.startswith("usage: captainslog")
    assert "Without a command: `run` when a chat platform is configured" in flat
    assert "otherwise `chat` in the terminal" in flat
    assert ".env in the current directory" in flat and "DATA_DIR" in flat


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("notaurl", "DATABASE_URL is not a database URL; write it as sqlite:///"),
        ("mysql://bot@127.0.0.1/bot", "DATABASE_URL names the database 'mysql', which CaptainsLog does not support"),
        ("sqlite:///{tmp}/a-file/under/it.db", "captainslog: The folder {tmp}/a-file/under for the SQLite database"),
    ],
)
def test_a_database_url_that_cannot_work_is_one_sentence(
    url: str, expected: str, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = environment(tmp_path, openai_fake, DATABASE_URL=url.format(tmp=tmp_path))

    code, output = run("migrate", tmp_path, env)

    assert code == 2, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("captainslog: ") and expected.format(tmp=tmp_path) in output, output
    assert "Traceback" not in output


def test_a_plain_sqlite_url_works_and_run_logs_where_the_database_is(
    discord_fake: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, DATABASE_URL="sqlite:///elsewhere/bot.db")
    code, output = run("migrate", tmp_path, env)
    assert code == 0, output
    assert output.splitlines()[-1] == "Database sqlite+aiosqlite:///elsewhere/bot.db is up to date."
    assert (tmp_path / "elsewhere" / "bot.db").is_file()

    env.update(discord_settings(discord_fake))
    process = start("run", tmp_path, env)
    wait_until(lambda: discord_fake.registered_commands.get("global"), process)
    output = finish(process)

    assert f"database: SQLite file {(tmp_path / 'elsewhere' / 'bot.db').resolve()}" in output, output
