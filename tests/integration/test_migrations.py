"""The Alembic migrations build exactly the schema the ORM models describe, on SQLite and PostgreSQL.

Each test gets a migrated database from the ``database_url`` fixture (a SQLite
file, then the session's real PostgreSQL database).  Tests that tear the schema
down always bring it back to the newest revision, since the PostgreSQL database
is shared with the rest of the session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, insert, inspect, text
from sqlalchemy.engine import Connection

from core.db.database import Database
from core.db.models import Base
from core.db.models_memory import Memory, MessageEmbedding, include_object
from core.memory import fts
from migrations import MIGRATIONS_DIR
from tests.memory_helpers import add_conversation, add_message, add_user

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

TABLES = {"users", "identities", "conversations", "messages"}


def alembic_config(connection: Connection | None = None) -> Config:
    """The project's Alembic configuration, sharing ``connection`` as core/db/database.py does."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def newest_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_differences(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    """What autogenerate would write to turn the live schema into ``metadata`` (empty: they match)."""
    opts = {"compare_type": True, "compare_server_default": True, "include_object": include_object}
    context = MigrationContext.configure(connection, opts=opts)
    return compare_metadata(context, metadata)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def downgrade_to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The migrated test database; left at the newest revision whatever the test did."""
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.migrate()
        await database.dispose()


async def test_migrations_build_exactly_the_models_schema(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(schema_differences)
        revision = await connection.run_sync(current_revision)

    assert differences == []
    assert revision == newest_revision()
    assert await db.pending_migrations() is False


async def test_the_comparison_would_notice_a_model_without_a_migration(db: Database) -> None:
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["messages"].append_column(Column("mood", String(20), nullable=True))

    async with db.engine.connect() as connection:
        differences = await connection.run_sync(lambda c: schema_differences(c, drifted))

    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "messages", "mood")]


async def test_downgrade_to_base_then_upgrade_again(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.run_sync(downgrade_to_base)
    async with db.engine.connect() as connection:
        left = await connection.run_sync(table_names)
        revision = await connection.run_sync(current_revision)

    assert left & TABLES == set(), "every table of ours is gone"
    assert revision is None
    assert await db.pending_migrations() is True

    await db.migrate()

    async with db.engine.connect() as connection:
        assert TABLES <= await connection.run_sync(table_names)
        assert await connection.run_sync(schema_differences) == []
    assert await db.pending_migrations() is False


async def test_migrating_twice_changes_nothing(db: Database) -> None:
    await db.migrate()
    await db.migrate()

    async with db.engine.connect() as connection:
        assert await connection.run_sync(current_revision) == newest_revision()
        assert await connection.run_sync(schema_differences) == []


async def test_postgresql_full_text_table_is_filled_from_existing_messages_and_memories(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("migration 0014 builds PostgreSQL's memory_fts; SQLite's FTS5 table dates from 0003")
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda c: command.downgrade(alembic_config(c), "0013_pending_actions"))
        await connection.execute(text("TRUNCATE users, conversations, messages RESTART IDENTITY CASCADE"))
    alice = await add_user(db, "Alice")
    conversation = await add_conversation(db, alice.id, "discord", "c", START)
    said = await add_message(db, conversation, "user", "My sister moved to Lisbon", START, author=alice.id)
    async with db.engine.begin() as connection:
        await connection.execute(
            insert(MessageEmbedding),
            {"message_id": said, "user_id": alice.id, "embedding": b"\0" * 16, "dims": 4, "model": "m",
             "indexed_at": START},
        )  # fmt: skip
        memory_id = await connection.scalar(
            insert(Memory).returning(Memory.id),
            {"user_id": alice.id, "text": "Ana, the sister, lives in Lisbon", "embedding": b"\0" * 16, "dims": 4,
             "model": "m", "source_message_id": said, "created_at": START, "updated_at": START},
        )  # fmt: skip

    await db.migrate()

    async with db.engine.connect() as connection:
        found = await fts.search(connection, alice.id, "living in Lisbon", 10, documents=2)
    assert {(hit.kind, hit.id) for hit in found} == {("message", said), ("memory", memory_id)}
