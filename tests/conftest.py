"""Shared fixtures: the loopback fakes, databases (SQLite and real PostgreSQL) and a ChatService.

Tests never reach the network: every client library talks to a fake on
127.0.0.1 (tests/fakes/).  The database fixture runs each test on SQLite and on
a real PostgreSQL server; without PostgreSQL those cases are skipped, unless
``CAPTAINSLOG_REQUIRE_POSTGRES=1`` (as in .ci/run), where they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.access import AccessPolicy
from core.chat import ChatService
from core.clock import Clock, ManualClock, Sleep
from core.context import ContextBuilder
from core.db.database import Database
from core.llm import ModelNames, OpenAIModel
from core.people import People
from core.tokens import TokenCounter
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
from core.tools.registry import ToolRegistry
from tests.fakes.openai_server import FakeOpenAI

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("CAPTAINSLOG_REQUIRE_POSTGRES") == "1"
# The time of every test that does not set its own: a fixed day, never today's date.
TEST_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TABLES = (
    "messages",
    "conversations",
    "identities",
    "users",
    "revisions",
    "oauth_states",
    "link_requests",
    "google_tokens",
    "message_embeddings",
    "memories",
    "memory_fts",
    "pending_extractions",
    "daily_logs",
    "usage_counts",
    "inbound_messages",
    "pending_actions",
    "reminder_occurrences",
    "reminders",
    "web_sessions",
    "access_tokens",
    "spoken_messages",
)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that is not to loopback, so no test can reach the internet by accident."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not (str(host).startswith("127.") or host in ("::1", "localhost")):
            raise OSError(f"test tried to reach {host}: tests may only talk to loopback fakes")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# -- fakes -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def openai_fake(_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The fake OpenAI server, reset for this test."""
    _openai_server.reset()
    return _openai_server


# -- databases ---------------------------------------------------------------------------


def _postgres_reachable() -> bool:
    url = make_url(POSTGRES_ADMIN_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    if not _postgres_reachable():
        message = f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " and CAPTAINSLOG_REQUIRE_POSTGRES=1")
        pytest.skip(message)
    name = f"captainslog_test_{uuid.uuid4().hex[:10]}"
    admin = Database(POSTGRES_ADMIN_URL)

    async def create() -> None:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        db = Database(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
        await db.migrate()
        await db.dispose()

    async def drop() -> None:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    asyncio.run(create())
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(drop())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once is faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"

    async def create() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await db.dispose()

    asyncio.run(create())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: a SQLite file, then real PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "captainslog.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` on an empty schema (PostgreSQL tables are truncated for each test)."""
    db = Database(database_url)
    if db.dialect == "postgresql":
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield db
    await db.dispose()


# -- the core ----------------------------------------------------------------------------


@pytest.fixture
async def model(openai_fake: FakeOpenAI) -> AsyncIterator[OpenAIModel]:
    """The real OpenAI wrapper pointed at the fake (no retries unless a test builds its own)."""
    llm = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), max_retries=0, timeout=10)
    yield llm
    await llm.close()


# One calculator (its worker processes) for the whole test session, closed at its end.
_CALCULATOR = Calculator()


def builtin_tools_for_tests() -> tuple:
    """The built-in tools, computing in the session's calculator."""
    return builtin_tools(_CALCULATOR)


@pytest.fixture(scope="session", autouse=True)
def _close_calculator() -> Iterator[None]:
    yield
    _CALCULATOR.close()


def make_chat_service(
    database: Database,
    model: OpenAIModel,
    *,
    allowed: tuple[str, ...] = ("terminal:*", "test:*"),
    token_budget: int = 16_000,
    tools: ToolRegistry | None = None,
    default_timezone: str = "Europe/Paris",
    checkpoint_interval: float = 1.0,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    people: People | None = None,
) -> ChatService:
    """A ChatService on real components; tests vary only what they need.

    Time stands still at :data:`TEST_NOW` unless the test passes its own clock.
    """
    return ChatService(
        db=database,
        model=model,
        context=ContextBuilder(TokenCounter("gpt-4o-mini"), token_budget=token_budget),
        tools=tools or ToolRegistry.of(builtin_tools_for_tests()),
        access=AccessPolicy(allowed),
        default_timezone=default_timezone,
        checkpoint_interval=checkpoint_interval,
        clock=clock or ManualClock(TEST_NOW),
        sleep=sleep or asyncio.sleep,
        people=people,
    )


@pytest.fixture
def chat(database: Database, model: OpenAIModel) -> ChatService:
    return make_chat_service(database, model)
