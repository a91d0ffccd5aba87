"""The start of a turn on Discord (real discord.py against the Discord fake, real core, real database).

A message is decided once: the adapter's gate reads the shared ``people`` revision and its
decision is handed to the turn, which does not ask again; a new person is stored in one
write, already marked as used.  The statements are counted where they reach the driver.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, select

from core.db.database import Database
from core.db.models import Identity
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW
from tests.e2e.platform_bot import open_fake_discord
from tests.e2e.test_discord import dm, start_bot
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with open_fake_discord(monkeypatch) as fake:
        yield fake


class Statements:
    """The SQL statements the bot sends to the database, as the driver receives them."""

    def __init__(self, database: Database) -> None:
        self.seen: list[str] = []
        for engine in database.sync_engines:  # the pool's, and on SQLite the writer thread's
            event.listen(engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement: str, *args: object) -> None:  # noqa: ANN001 - SQLAlchemy's event
        self.seen.append(" ".join(statement.split()).lower())

    def count(self, *words: str) -> int:
        return sum(all(word in s for word in words) for s in self.seen)


async def test_a_new_persons_first_dm_is_decided_once_and_they_are_stored_in_one_write(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    bot = await start_bot(fake_discord, database, model)
    try:
        statements = Statements(database)
        alice = fake_discord.add_user(name="alice")["id"]
        openai_fake.queue(Reply.at_rate("Hello Alice.", first_token_after=0.0, words_per_second=100))

        channel = dm(fake_discord, alice, "hello")

        assert await bot.answer_in(channel) == ["Hello Alice."]
        assert statements.count("from revisions") == 1, "the access decision reads the revision once"
        assert statements.count("insert into identities") == 1
        assert statements.count("update identities") == 0, "marked as used by the insert, not a second write"
        assert statements.count("from users join identities") == 1, "the new account is looked up once"
        async with database.engine.connect() as conn:
            used = await conn.scalar(select(Identity.last_used_at).where(Identity.platform_user_id == alice))
        assert used is not None and used.replace(tzinfo=TEST_NOW.tzinfo) == TEST_NOW

        # A known person's next message: the revision read only, the decision is cached.
        statements.seen.clear()
        openai_fake.queue(Reply.at_rate("Again.", first_token_after=0.0, words_per_second=100))
        dm(fake_discord, alice, "again")
        assert await bot.answer_in(channel, count=2) == ["Hello Alice.", "Again."]
        assert statements.count("from revisions") == 1
        assert statements.count("from users join identities") == 0
    finally:
        await bot.service.stop()
