"""The timeline in the order messages were written, not stored: an imported ChatGPT history (stored last,
written years earlier) sits at its own dates, and keyset pages stay exact across equal times."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import ManualClock
from core.data_import.chatgpt import import_conversations, read_export
from core.db.database import Database
from core.db.models import Message
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.e2e.test_import_chatgpt import export
from tests.memory_helpers import add_conversation, add_message
from tests.web_helpers import ADA, BOB, WebKit


@pytest.fixture
async def kit(database: Database, model: OpenAIModel) -> WebKit:
    clock = ManualClock(TEST_NOW)
    return WebKit(
        database, make_chat_service(database, model, clock=clock), model, clock, public_url="https://bot.example.org"
    )


async def _recent_then_imported(kit: WebKit) -> tuple[list[int], list[int]]:
    """Ada's messages of today (two written in the same second), then her ChatGPT history of 2023 imported."""
    ada = await kit.user_id(ADA)
    conversation = await add_conversation(kit.db, ada, "discord", "dm", TEST_NOW)
    times = [
        TEST_NOW,
        TEST_NOW + timedelta(minutes=1),
        TEST_NOW + timedelta(minutes=1),
        TEST_NOW + timedelta(minutes=2),
    ]
    recent = [await add_message(kit.db, conversation, "user", f"today {n}", at, ada) for n, at in enumerate(times)]
    conversations, skipped = read_export(json.dumps(export()).encode())
    await import_conversations(kit.db, ada, conversations, skipped)
    async with kit.db.engine.connect() as conn:
        imported = list((await conn.scalars(select(Message.id).where(Message.id > recent[-1]))).all())
    return recent, imported


async def test_imported_history_appears_at_its_own_dates_and_pages_stay_exact(kit: WebKit) -> None:
    recent, imported = await _recent_then_imported(kit)
    assert min(imported) > max(recent)  # stored after today's messages
    seen: list[str] = []
    async with kit.signed_in(ADA) as client:
        before = None
        while True:  # one message a page: the two written in the same second come once each, by id
            body = (
                await client.get("/api/v1/messages", params={"limit": 1, **({"before": before} if before else {})})
            ).json()
            seen += [m["text"] for m in body["messages"]]
            if body["next_before"] is None:
                break
            before = body["next_before"]
        first = (await client.get("/timeline")).text
        that_day = (await client.get("/timeline", params={"day": "2023-11-14"})).text
        opened = (await client.get(f"/timeline?start={imported[1]}")).text
    assert seen == [
        "today 3", "today 2", "today 1", "today 0",
        "Manteigaria, near Camões.", "And a good pastel de nata?", "Take tram 28 from Martim Moniz.",
        "We land in Lisbon on the 3rd; find a tram to Alfama",
    ]  # fmt: skip
    assert "today 3" in first and first.index("today 3") < first.index("today 0") < first.index("Manteigaria")
    assert "today" not in that_day.split("<main", 1)[1] and "Manteigaria" in that_day
    assert "2023-11-14" in that_day
    body = opened.split("<main", 1)[1]
    assert "today" not in body and "Take tram 28" in body and "Manteigaria" not in body  # from that message on


async def test_a_cursor_that_is_not_the_persons_message_gives_an_empty_page(kit: WebKit) -> None:
    recent, _ = await _recent_then_imported(kit)
    async with kit.signed_in(BOB) as client:
        page = (await client.get("/api/v1/messages", params={"before": recent[-1]})).json()
        started = (await client.get(f"/timeline?start={recent[0]}")).text
    assert page == {"messages": [], "next_before": None}
    assert "today" not in started
