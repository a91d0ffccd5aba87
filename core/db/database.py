"""The database handle: engine, session factory and migrations."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.db.sqlite_writer import SQLiteWriter
from core.db.url import DatabaseUrlError, database_location, display_database_url, normalize_database_url
from migrations import MIGRATIONS_DIR

log = logging.getLogger(__name__)

T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout: float = 10.0) -> None:
    # WAL lets readers run beside the one writer; busy_timeout turns a momentary
    # lock into a short wait instead of "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.close()


class Database:
    """Owns the async engine and hands out sessions.

    ``url`` is a SQLAlchemy URL: ``sqlite+aiosqlite:///path.db`` (embedded default)
    or ``postgresql+asyncpg://user@host/db`` (production).
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 20, busy_timeout: float = 10.0) -> None:
        """``busy_timeout`` (SQLite): how long a write waits for another writer before it fails.

        Raises :class:`DatabaseUrlError` when ``url`` is no usable database URL or its folder cannot be made."""
        url = normalize_database_url(url)
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": self.dialect != "sqlite"}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                folder = Path(parsed.database).expanduser().parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseUrlError(
                        f"The folder {folder} for the SQLite database cannot be created ({exc.strerror or exc}); "
                        "set DATA_DIR or DATABASE_URL to a folder you can write to."
                    ) from None
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._writer: SQLiteWriter | None = None  # a SQLite file's: see write()
        if self.dialect == "sqlite":
            pragmas = partial(_sqlite_pragmas, busy_timeout=busy_timeout)
            event.listen(self.engine.sync_engine, "connect", pragmas)
            if parsed.database and parsed.database != ":memory:":  # a memory database is one connection's
                self._writer = SQLiteWriter(parsed, pragmas)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def sync_engines(self) -> tuple[Engine, ...]:
        """Every engine statements go through (for SQLAlchemy events): the pool's, and the SQLite writer's."""
        return (self.engine.sync_engine,) if self._writer is None else (self.engine.sync_engine, self._writer.engine)

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe for logs."""
        return display_database_url(self.url)

    @property
    def location(self) -> str:
        """Where the data lives, for people: the absolute path of a SQLite file, else the masked URL."""
        return database_location(self.url)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in one write transaction, committed when it returns; its result.

        On a SQLite file the transaction runs whole in this process's writer thread
        (core/db/sqlite_writer.py); elsewhere on a pooled connection, through SQLAlchemy's
        ``run_sync``. ``work`` is plain synchronous SQLAlchemy, the same for both.
        """
        if self._writer is not None:
            return await self._writer.run(work)
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    def session(self) -> AsyncSession:
        """A new session; use as ``async with db.session() as s:``."""
        return self.sessions()

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (creates it on an empty database)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade_to_head)

    async def pending_migrations(self) -> bool:
        """Whether the schema is behind the newest migration."""
        async with self.engine.connect() as connection:
            current = await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
        head = ScriptDirectory.from_config(_alembic_config()).get_heads()
        return set(current) != set(head)

    async def ping(self) -> None:
        """Run a trivial query; raises when the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
        await self.engine.dispose()


def known_revisions() -> set[str]:
    """Every schema version this program's migrations know (a backup from a newer one is refused)."""
    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade_to_head(connection: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")
