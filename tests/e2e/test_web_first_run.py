"""With only an OpenAI key set, the real command line serves the web app and says where.

SECRET_KEY is made on the first run and kept in the data folder (mode 0600), never shown or logged;
`captainslog link` and `captainslog run` (no chat platform: the web app alone) use the same key, so a
link made by one process opens a session in the other. The terminal chat prints the address too.
"""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.fakes.openai_server import FakeOpenAI
from tests.process_helpers import environment, finish, start
from tests.web_helpers import csrf_of

ADDRESS = re.compile(r"The web app: (http://127\.0\.0\.1:\d+)")
LINK = re.compile(r"http://\S+/link/[\w-]+")


def newcomer(tmp_path: Path, openai_fake: FakeOpenAI) -> dict[str, str]:
    """Only the OpenAI key (and the fake's address): no SECRET_KEY, no platform, the default allowlist."""
    env = environment(tmp_path, openai_fake)
    env.pop("ALLOWED_ACCOUNTS")
    env["TERMINAL_USER"] = "ada"
    return env


def read_until(process: subprocess.Popen[str], pattern: re.Pattern[str], seen: list[str]) -> re.Match[str]:
    """Read the process's output line by line until ``pattern`` shows (bounded by a deadline thread)."""
    assert process.stdout is not None
    timer = threading.Timer(30, process.kill)  # against a hang only
    timer.start()
    try:
        for line in process.stdout:
            seen.append(line)
            found = pattern.search(line)
            if found:
                return found
    finally:
        timer.cancel()
    raise AssertionError("".join(seen))


def sign_in(address: str, link: str) -> httpx.Response:
    """Open the link against the served app, as a browser does, and load the chat."""
    path = "/" + link.split("/", 3)[3]
    with httpx.Client(base_url=address, timeout=15) as browser:
        shown = browser.get(path)
        opened = browser.post(path, data={"csrf": csrf_of(shown.text)})
        assert opened.status_code == 200, opened.text
        return browser.get("/chat")


def test_run_without_a_platform_serves_the_web_app_with_a_key_kept_in_the_data_folder(
    tmp_path: Path, openai_fake: FakeOpenAI
) -> None:
    env = newcomer(tmp_path, openai_fake)
    made = subprocess.run(
        [sys.executable, "-m", "bot", "link"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    key_file = tmp_path / "data" / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 48 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    link = LINK.search(made.stdout)
    assert link is not None, made.stdout

    process = start("run", tmp_path, env)
    seen: list[str] = []
    try:
        address = read_until(process, ADDRESS, seen).group(1)
        chat = sign_in(address, link.group(0))  # made by another process: the same key opens it
        assert chat.status_code == 200 and 'id="composer"' in chat.text
    finally:
        output = "".join(seen) + finish(process)
    assert "No chat platform is configured: serving the web app alone." in output
    assert "Sign in with the link `captainslog link` prints" in output  # no chat here to send /account in
    assert process.returncode == 0, output
    log = (
        (tmp_path / "data" / "captainslog.log").read_text() if (tmp_path / "data" / "captainslog.log").exists() else ""
    )
    assert key not in output + made.stdout + made.stderr + log
    assert key_file.read_text().strip() == key  # kept, not made again


def test_the_terminal_chat_says_where_the_web_app_is(tmp_path: Path, openai_fake: FakeOpenAI) -> None:
    env = newcomer(tmp_path, openai_fake)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--transcript"], cwd=tmp_path, env={**env, "COLUMNS": "400"},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
    )  # fmt: skip
    assert process.stdin is not None
    seen: list[str] = []
    try:
        address = read_until(process, ADDRESS, seen).group(1)
        process.stdin.write("/account\n")
        process.stdin.flush()
        link = read_until(process, LINK, seen).group(0)
        chat = sign_in(address, link)
        assert chat.status_code == 200 and 'id="composer"' in chat.text
    finally:
        output = "".join(seen) + finish(process, signal_to_send=None)  # stdin closes: the chat ends as at Ctrl-D
    assert "Type /account here for a sign-in link." in output
    assert "Your link to the web app (chat, timeline, memories, settings)" in output
    assert process.returncode == 0, output
    key = (tmp_path / "data" / "secret_key").read_text().strip()
    assert key not in output


def test_a_taken_port_is_one_line_naming_the_setting_to_change(tmp_path: Path, openai_fake: FakeOpenAI) -> None:
    """Another program on WEB_PORT: `run` says which setting to change (no traceback); the chat says it and goes on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**newcomer(tmp_path, openai_fake), "WEB_PORT": str(port)}
        served = subprocess.run(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        chatted = subprocess.run(
            [sys.executable, "-m", "bot", "chat", "--transcript"], cwd=tmp_path, env=env, input="hello\n",
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    said = f"The web app cannot listen on 127.0.0.1:{port}: that port is already in use"
    output = served.stdout + served.stderr
    assert served.returncode == 2, output
    assert said in output and "WEB_PORT" in output
    assert "Traceback" not in output
    assert chatted.returncode == 0, chatted.stderr
    assert f"No web app from this chat: {said}" in chatted.stdout
    assert "You said:" in chatted.stdout  # the chat itself still answers
