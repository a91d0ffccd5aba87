"""A consistent copy of the database while the bot runs, and putting one back.

SQLite: SQLite's online backup API copies a consistent snapshot page by page
while other connections keep reading and writing (WAL mode). PostgreSQL:
``pg_dump --format=custom`` and ``pg_restore`` when the client tools are installed.

Restoring checks the copy first: it must be a CaptainsLog database whose
schema version this program knows (an older one is migrated afterwards), and an
existing database that holds anything is only replaced with ``force``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

PG_TOOLS_HINT = "install PostgreSQL's client tools (Debian: apt install postgresql-client)"


class BackupError(Exception):
    """One sentence for the person running the command; nothing was changed."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    """Where the copy went and what it holds."""

    path: Path
    kind: str  # "sqlite" or "pg_dump"
    messages: int | None


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL (and an in-memory SQLite has no file to copy)."""
    url = make_url(database_url)
    if not url.get_backend_name().startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is SQLite in memory: there is nothing on disk to back up.")
    return Path(url.database).expanduser().resolve()


def backup(database_url: str, target: Path) -> BackupResult:
    """Copy the database to ``target`` (refused if it exists) while the bot may be running."""
    if target.exists():
        raise BackupError(f"{target} exists already; name a new file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite_path(database_url)
    if source is None:
        _pg_tool("pg_dump", ["--format=custom", f"--file={target}", _libpq_url(database_url)], database_url)
        return BackupResult(target, "pg_dump", None)
    if not source.is_file():
        raise BackupError(f"There is no database at {source} to back up.")
    partial = target.with_name(target.name + ".partial")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(partial) as dst:
            src.backup(dst, pages=1024)  # in steps, so writers are never held back for the whole copy
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, "sqlite", _message_count(target))


def check_backup(path: Path, known_revisions: set[str]) -> int:
    """The number of messages in a SQLite copy; raises when it is not one this program can restore."""
    if not path.is_file():
        raise BackupError(f"There is no file {path}.")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as copy:
            revisions = {row[0] for row in copy.execute("SELECT version_num FROM alembic_version")}
            messages = copy.execute("SELECT count(*) FROM messages").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a CaptainsLog database ({exc}).") from None
    if not revisions:
        raise BackupError(f"{path} has no schema version; it is not a CaptainsLog backup.")
    unknown = revisions - known_revisions
    if unknown:
        raise BackupError(
            f"{path} was made by a newer CaptainsLog (schema {', '.join(sorted(unknown))}); "
            "upgrade this installation first."
        )
    return int(messages)


def restore(database_url: str, source: Path, known_revisions: set[str], *, force: bool) -> int | None:
    """Put the copy at ``source`` in place of the database; the number of messages restored (SQLite).

    The caller migrates afterwards (a copy from an older version is brought up to date).
    """
    target = sqlite_path(database_url)
    if target is None:
        if not force:
            raise BackupError("Restoring into PostgreSQL replaces every table: add --force to do it.")
        arguments = ["--clean", "--if-exists", "--no-owner", f"--dbname={_libpq_url(database_url)}", str(source)]
        _pg_tool("pg_restore", arguments, database_url)
        return None
    messages = check_backup(source, known_revisions)
    if target.exists() and not force and _holds_anything(target):
        raise BackupError(
            f"{target} already holds a database with messages; stop the bot and add --force to replace it "
            "(back it up first)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and _holds_anything(target):
        # --force: the database it replaces is kept beside it, never simply gone.
        kept = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%d-%H%M%S}")
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as old, sqlite3.connect(kept) as copy:
            old.backup(copy)
    incoming = target.with_name(target.name + ".restoring")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(incoming) as dst:
            src.backup(dst)
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)  # the old database's log must not be replayed onto the copy
        incoming.replace(target)
    finally:
        incoming.unlink(missing_ok=True)
    return messages


def in_use_marker(database_url: str) -> Path | None:
    """The file a running bot or chat holds a shared lock on (SQLite only): restore refuses while it is held."""
    try:
        path = sqlite_path(database_url)
    except BackupError:
        return None
    return None if path is None else path.with_name(path.name + ".in-use")


@contextmanager
def in_use(database_url: str) -> Iterator[None]:
    """Held by ``captainslog run`` and ``chat`` while they run: many may hold it, ``restore`` cannot take it."""
    marker = in_use_marker(database_url)
    if marker is None:
        yield
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    with marker.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def nobody_using(database_url: str) -> Iterator[None]:
    """Held by ``restore``: refuses (BackupError) while a bot or chat runs on the database."""
    marker = in_use_marker(database_url)
    if marker is None:
        yield
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    with marker.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                "CaptainsLog is running on this database (`captainslog run` or a chat): stop it first; "
                "a restore under a running bot would lose what it writes next."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holds_anything(path: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as existing:
            return existing.execute("SELECT count(*) FROM messages").fetchone()[0] > 0
    except sqlite3.DatabaseError:
        return path.stat().st_size > 0  # not ours, or no messages table: still not ours to overwrite


def _message_count(path: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as copy:
            return int(copy.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.DatabaseError:
        return None


def _libpq_url(database_url: str) -> str:
    # pg_dump speaks libpq: postgresql://, without SQLAlchemy's "+asyncpg", with ssl= back as sslmode=, and
    # without the password (it goes in PGPASSWORD, not on a command line other users can read).
    url = make_url(database_url).set(drivername="postgresql", password=None)
    query = dict(url.query)
    if "ssl" in query:
        query["sslmode"] = query.pop("ssl")
    return url.set(query=query).render_as_string(hide_password=False)


def _pg_tool(name: str, arguments: list[str], database_url: str) -> None:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed: {PG_TOOLS_HINT}.")
    password = make_url(database_url).password
    env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
    done = subprocess.run([tool, *arguments], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise BackupError(f"{name} failed: {reason}")
