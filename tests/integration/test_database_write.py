"""`Database.write`: a write transaction of plain SQLAlchemy, on SQLite run whole in the writer thread.

Writes queued behind one another each commit on their own: one of them failing fails
only itself, the others are stored.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.db.database import Database
from core.db.models import User

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add_user(user_id: int, name: str):  # noqa: ANN201 - the work for Database.write
    def work(connection: Connection) -> int:
        connection.execute(insert(User), {"id": user_id, "display_name": name, "settings": {}, "created_at": NOW})
        return user_id

    return work


async def names(db: Database) -> list[str]:
    async with db.engine.connect() as connection:
        return list((await connection.scalars(select(User.display_name).order_by(User.id))).all())


async def test_writes_queued_together_are_stored_and_a_failing_one_fails_alone(database: Database) -> None:
    assert await database.write(add_user(1, "ada")) == 1
    release = threading.Event()

    def first(connection: Connection) -> int:
        if database.dialect == "sqlite":
            release.wait(10)  # holds the writer thread until the others have queued behind it
        return add_user(2, "bob")(connection)

    writes = [asyncio.ensure_future(database.write(first))]
    await asyncio.sleep(0)  # the first write is handed to the writer before the others
    writes += [
        asyncio.ensure_future(database.write(work))
        for work in (add_user(3, "cy"), add_user(1, "ada again"), add_user(4, "dee"))
    ]
    await asyncio.sleep(0)  # each queued its write
    release.set()
    results = await asyncio.gather(*writes, return_exceptions=True)

    assert [results[0], results[1], results[3]] == [2, 3, 4]
    assert isinstance(results[2], IntegrityError)
    assert await names(database) == ["ada", "bob", "cy", "dee"]


async def test_a_write_after_dispose_opens_the_database_again(database: Database) -> None:
    assert await database.write(add_user(1, "ada")) == 1
    await database.dispose()
    assert await database.write(add_user(2, "bob")) == 2
    assert await names(database) == ["ada", "bob"]


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///:memory:"])
async def test_a_memory_database_writes_on_its_one_connection(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
        assert await db.write(add_user(1, "ada")) == 1
        assert await names(db) == ["ada"]
    finally:
        await db.dispose()
