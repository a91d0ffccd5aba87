"""Database URLs as people write them, turned into the async SQLAlchemy URLs the engine needs.

Hosting providers hand out ``postgres://`` or ``postgresql://`` URLs, and
SQLAlchemy's own examples write ``sqlite:///file.db``; without a driver
SQLAlchemy picks a synchronous one (psycopg, pysqlite) that the async engine
refuses.  Every accepted form is switched to the async driver here, and
anything else is one sentence that says what to write instead.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# The async drivers the project depends on, by backend.
ASYNC_DRIVERS = {"postgresql": "asyncpg", "sqlite": "aiosqlite"}
_BACKEND_ALIASES = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}
EXAMPLES = "sqlite:///path/to/file.db or postgresql://USER:PASSWORD@HOST:5432/DBNAME"


class DatabaseUrlError(ValueError):
    """DATABASE_URL cannot be used; the message is one sentence that says what to write instead."""


def normalize_database_url(url: str) -> str:
    """The async SQLAlchemy URL for ``url``.

    ``postgres://`` and ``postgresql://`` become ``postgresql+asyncpg://`` (with
    libpq's ``sslmode`` passed on as asyncpg's ``ssl``), ``sqlite:///path``
    becomes ``sqlite+aiosqlite:///path``; URLs that already name the async
    driver are kept as they are.  Raises :class:`DatabaseUrlError` otherwise.
    The message never contains the password.
    """
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL; write it as {EXAMPLES}.") from None
    backend, _, driver = parsed.drivername.partition("+")
    canonical = _BACKEND_ALIASES.get(backend.lower())
    if canonical is None:
        raise DatabaseUrlError(
            f"DATABASE_URL names the database {backend!r}, which CaptainsLog does not support; "
            f"use SQLite or PostgreSQL: {EXAMPLES}."
        )
    wanted = ASYNC_DRIVERS[canonical]
    if driver and driver.lower() != wanted:
        raise DatabaseUrlError(
            f"DATABASE_URL names the driver {driver!r}; CaptainsLog uses {wanted} for {canonical}: "
            f"write {canonical}:// (or {canonical}+{wanted}://) instead."
        )
    normalized = parsed.set(drivername=f"{canonical}+{wanted}")
    if canonical == "postgresql":
        normalized = _sslmode_to_ssl(normalized)
        if not normalized.database:
            raise DatabaseUrlError(f"DATABASE_URL names no database after the host; write it as {EXAMPLES}.")
    return normalized.render_as_string(hide_password=False)


def _sslmode_to_ssl(url: URL) -> URL:
    # asyncpg takes libpq's sslmode values under the name ``ssl``.
    query = dict(url.query)
    if "sslmode" in query:
        query.setdefault("ssl", query.pop("sslmode"))
        return url.set(query=query)
    return url


def display_database_url(url: str) -> str:
    """The URL with any password masked, safe for logs."""
    return make_url(url).render_as_string(hide_password=True)


def database_location(url: str) -> str:
    """Where the data lives, for people: the absolute file of a SQLite database, else the masked URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "SQLite in memory (nothing is kept)"
        return f"SQLite file {Path(parsed.database).expanduser().resolve()}"
    return display_database_url(url)
