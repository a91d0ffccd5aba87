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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the writer thread and its batches
async def test_a_write_that_rolls_the_whole_transaction_back_fails_its_whole_batch(database: Database) -> None:
    """A full disk or an I/O error ends SQLite's whole transaction, not only one write's savepoint: the writes
    queued with it must not be reported stored (they were lost), nor may the ones after it be committed alone.
    A ROLLBACK conflict clause does the same on demand."""
    release = threading.Event()

    def first(connection: Connection) -> int:
        release.wait(10)  # the others queue behind it: they run together in the next batch
        return add_user(1, "ada")(connection)

    def rolls_everything_back(connection: Connection) -> int:
        connection.exec_driver_sql(
            "INSERT OR ROLLBACK INTO users (id, display_name, settings, created_at) VALUES (2, 'x', '{}', '2026-03-01')"
        )
        return 2

    writes = [asyncio.ensure_future(database.write(first))]
    await asyncio.sleep(0)
    writes += [asyncio.ensure_future(database.write(w)) for w in (add_user(2, "bob"), rolls_everything_back,
                                                                   add_user(3, "cy"))]  # fmt: skip
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*writes, return_exceptions=True)

    assert results[0] == 1
    assert all(isinstance(r, Exception) for r in results[1:]), results
    assert await names(database) == ["ada"], "nothing of the lost batch is stored, nothing reported stored is lost"
