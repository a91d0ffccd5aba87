"""``captainslog doctor`` and ``captainslog migrate`` without a chat platform: settings, database, endpoint.

The real program in a subprocess against the fake OpenAI server (tests/terminal_helpers.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future
from functools import partial

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.terminal_helpers import (
    WRONG_KEY,
    Session,
    newest_revision,
    run_bot,
    started_together,
)


@pytest.fixture(scope="module", autouse=True)
def other_commands(
    _openai_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Session]]]:
    """The runs of this module, all started at once when it begins: doctor only lists models (never a chat
    completion) and migrate does not reach the fake at all."""
    url = _openai_server.base_url
    yield from started_together({
        "doctor": partial(run_bot, "doctor", tmp_path_factory.mktemp("doctor"), OPENAI_BASE_URL=url),
        "doctor with a wrong key": partial(
            run_bot, "doctor", tmp_path_factory.mktemp("doctor-wrong-key"), OPENAI_BASE_URL=url,
            OPENAI_API_KEY=WRONG_KEY,
        ),
        "migrate": partial(run_bot, "migrate", tmp_path_factory.mktemp("migrate")),
    })  # fmt: skip


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
