"""DATABASE_URL as people write it: the forms that work switch to the async drivers, the rest is one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.__main__ import _settings
from bot.config import Settings
from bot.errors import ConfigError
from core.db.database import Database
from core.db.url import DatabaseUrlError, database_location, display_database_url, normalize_database_url


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("written", "used"),
    [
        (
            "postgres://bot:pw@db.example.com:5432/captainslog",
            "postgresql+asyncpg://bot:pw@db.example.com:5432/captainslog",
        ),
        ("postgresql://bot:pw@db.example.com/captainslog", "postgresql+asyncpg://bot:pw@db.example.com/captainslog"),
        ("postgresql+asyncpg://bot@db.internal/captainslog", "postgresql+asyncpg://bot@db.internal/captainslog"),
        ("postgres://bot@h/db?sslmode=require", "postgresql+asyncpg://bot@h/db?ssl=require"),
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite:////var/lib/captainslog/x.db", "sqlite+aiosqlite:////var/lib/captainslog/x.db"),
        ("sqlite+aiosqlite:///data/captainslog.db", "sqlite+aiosqlite:///data/captainslog.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("  sqlite:///padded.db \n", "sqlite+aiosqlite:///padded.db"),
    ],
)
def test_the_usual_forms_switch_to_the_async_drivers(written: str, used: str) -> None:
    assert normalize_database_url(written) == used


def test_a_password_with_special_characters_survives() -> None:
    used = normalize_database_url("postgres://bot:p%40ss%2Fw@h/db")

    assert make_url(used).password == "p@ss/w"


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("notaurl", "DATABASE_URL is not a database URL; write it as sqlite:///path/to/file.db or postgresql://"),
        ("/home/me/captainslog.db", "DATABASE_URL is not a database URL"),
        ("mysql://bot:pw@h/db", "DATABASE_URL names the database 'mysql', which CaptainsLog does not support"),
        ("postgresql+psycopg2://bot:pw@h/db", "DATABASE_URL names the driver 'psycopg2'; CaptainsLog uses asyncpg"),
        ("sqlite+pysqlite:///x.db", "DATABASE_URL names the driver 'pysqlite'; CaptainsLog uses aiosqlite"),
        ("postgres://bot:pw@h", "DATABASE_URL names no database after the host"),
    ],
)
def test_anything_else_is_one_sentence_without_the_password(written: str, says: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        normalize_database_url(written)

    message = str(caught.value)
    assert message.startswith(says)
    assert "\n" not in message and "pw" not in message


def test_the_settings_switch_the_url_and_the_command_line_names_a_wrong_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://bot:pw@db.example.com/captainslog")
    assert Settings(_env_file=None).database_url == "postgresql+asyncpg://bot:pw@db.example.com/captainslog"

    monkeypatch.setenv("DATABASE_URL", "notaurl")
    with pytest.raises(ConfigError) as caught:
        _settings()
    assert str(caught.value).startswith("Some settings are wrong: DATABASE_URL is not a database URL; write it as ")


def test_a_sqlite_file_under_a_file_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")

    with pytest.raises(DatabaseUrlError) as caught:
        Database(f"sqlite:///{tmp_path}/notes.txt/db/captainslog.db")

    assert str(caught.value).startswith(f"The folder {tmp_path}/notes.txt/db for the SQLite database cannot be created")


def test_locations_are_absolute_files_or_masked_urls(tmp_path: Path) -> None:
    assert database_location("sqlite+aiosqlite:///data/captainslog.db") == (
        f"SQLite file {(tmp_path / 'data' / 'captainslog.db').resolve()}"
    )
    assert database_location("sqlite+aiosqlite://") == "SQLite in memory (nothing is kept)"
    assert database_location("postgresql+asyncpg://bot:secret@h/db") == "postgresql+asyncpg://bot:***@h/db"
    assert "secret" not in display_database_url("postgresql+asyncpg://bot:secret@h/db")


async def test_a_plain_sqlite_url_opens_a_working_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/new/folder/x.db")
    try:
        await db.migrate()
        assert not await db.pending_migrations()
    finally:
        await db.dispose()

    assert (tmp_path / "new" / "folder" / "x.db").is_file()
    assert db.location == f"SQLite file {tmp_path}/new/folder/x.db"


@pytest.mark.postgres
async def test_a_postgres_url_as_hosting_providers_give_it_reaches_postgresql(postgres_url: str) -> None:
    written = make_url(postgres_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert written.startswith("postgres://")
    db = Database(written)
    try:
        await db.ping()
        assert not await db.pending_migrations()
    finally:
        await db.dispose()
