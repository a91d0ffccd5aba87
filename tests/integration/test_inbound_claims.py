"""Claims of incoming messages in the database (SQLite and PostgreSQL): once, per place, kept two days."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.chat.inbound import InboundClaims
from core.db.database import Database
from core.db.inbound import InboundMessages
from core.db.models_inbound import InboundMessage
from core.types import ConversationRef

DM = ConversationRef("slack", "T1", "D1")
OTHER_DM = ConversationRef("slack", "T1", "D2")
AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def claimed_rows(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


async def test_a_message_is_claimed_by_the_first_of_two_processes_only(database: Database) -> None:
    other_db = Database(database.url)
    try:
        mine, theirs = InboundClaims(InboundMessages(database)), InboundClaims(InboundMessages(other_db))
        results = await asyncio.gather(*(claims.claim(DM, "1.000100", AT) for claims in (mine, theirs) * 5))
    finally:
        await other_db.dispose()

    assert sorted(results) == [False] * 9 + [True]
    # The same timestamp in another channel is another message (Slack's ts is unique per channel).
    assert await mine.claim(OTHER_DM, "1.000100", AT) is True
    assert await mine.claim(DM, "", AT) is True, "a message without a platform id is always answered"
    assert await claimed_rows(database) == 2


async def test_claims_of_days_gone_by_are_dropped(database: Database) -> None:
    claims = InboundClaims(InboundMessages(database))
    assert await claims.claim(DM, "1.000100", AT)
    assert await claims.note_edit(DM, "1.000100", "edited")

    assert await InboundClaims(InboundMessages(database)).claim(DM, "2.000100", AT + timedelta(days=3))

    assert await claimed_rows(database) == 1
    assert not await claims.note_edit(DM, "1.000100", "edited again"), "nothing waits that long"


async def test_a_message_is_answered_when_the_database_cannot_be_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = Database(f"sqlite+aiosqlite:///{tmp_path}/missing-directory/bot.db")
    try:
        assert await InboundClaims(InboundMessages(unreachable)).claim(DM, "1.000100", AT) is True
    finally:
        await unreachable.dispose()
    assert "could not claim message 1.000100" in caplog.text
