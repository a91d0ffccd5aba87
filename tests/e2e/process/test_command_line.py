"""The command line: --version and --help, and DATABASE_URL values that cannot work or a plain sqlite:/// URL.

Runs ``python -m bot`` in a subprocess (tests/process_helpers.py); timeouts are deadlines against a hang.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.process_helpers import DEADLINE, discord_settings, environment, finish, run, start, wait_until


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
    assert "Both serve the web app too" in flat and "http://127.0.0.1:8080" in flat  # the web app is not hidden
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
