"""Rolling summaries: written after the answer for the exact range they replace, used instead of it, never
deleting a message; rewritten after an edit; a failing summary call changes nothing. Real openai client against
the fake, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from core.chat import ChatService
from core.db.database import Database
from core.db.models import Message
from core.db.models_summaries import Summary
from core.llm import OpenAIModel
from core.summaries.writer import INSTRUCTIONS
from tests.chat_helpers import PLACE, say
from tests.conftest import make_chat_service
from tests.fakes.openai_server import Error, FakeOpenAI, Reply, echo_responder
from tests.feature_helpers import add_summaries

SUMMARY_MARK = INSTRUCTIONS.split(":")[0][:40]
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa"


def is_summary_request(request: dict[str, Any]) -> bool:
    first = (request.get("messages") or [{}])[0]
    return str(first.get("content", "")).startswith(SUMMARY_MARK)


def responder(request: dict[str, Any]) -> Any:
    """Summaries get a short fixed text naming how many lines they read; everything else is echoed."""
    if is_summary_request(request):
        excerpt = request["messages"][1]["content"]
        return Reply(f"SUMMARY of {excerpt.count('] ')} lines. " + "Alice talked about the alphabet. " * 8)
    return echo_responder(request)


@pytest.fixture
def summarising_chat(database: Database, model: OpenAIModel, openai_fake: FakeOpenAI) -> ChatService:
    openai_fake.default = responder
    chat = make_chat_service(database, model, token_budget=1_200)
    add_summaries(chat, model, model_name="summary-model")
    return chat


async def talk(chat: ChatService, turns: int, start: int = 0) -> None:
    for n in range(start, start + turns):
        await say(chat, f"message {n}: {WORDS}")
        await chat.tasks.wait_idle()


async def summaries(database: Database) -> list[Summary]:
    async with database.session() as session:
        return list((await session.scalars(select(Summary).order_by(Summary.level, Summary.first_message_id))).all())


async def test_old_messages_are_folded_into_a_summary_of_their_exact_range(
    summarising_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    await talk(summarising_chat, 14)

    (summary, *_) = await summaries(database)
    async with database.session() as session:
        first_id = await session.scalar(select(func.min(Message.id)))
        covered = (
            await session.scalars(
                select(Message.content)
                .where(Message.id >= summary.first_message_id, Message.id <= summary.last_message_id)
                .order_by(Message.id)
            )
        ).all()
        total = await session.scalar(select(func.count()).select_from(Message))
    assert summary.first_message_id == first_id and summary.level == 0
    assert summary.model == "summary-model"
    assert summary.text.startswith(f"SUMMARY of {len(covered)} lines")
    assert total == 28, "summarising deleted nothing"

    # The next turn sees the summary, with its dates, in place of the range it covers.
    await say(summarising_chat, "what did we say first?")
    request = openai_fake.chat_requests()[-1]
    assert not is_summary_request(request)
    system = [m["content"] for m in request["messages"] if m["role"] == "system"]
    assert any(s.startswith("Summary of this conversation from Tue 2026-11-24") and summary.text in s for s in system)
    assert any("not instructions" in s for s in system)
    assert "message 0:" not in str(request["messages"])
    assert "message 13:" in str(request["messages"])
    # /history and the database still show every message.
    assert len(await summarising_chat.history(PLACE, limit=100)) == 30


async def test_summaries_are_written_after_the_answer_not_before_it(
    summarising_chat: ChatService, openai_fake: FakeOpenAI
) -> None:
    await talk(summarising_chat, 10)
    order = ["summary" if is_summary_request(r) else "answer" for r in openai_fake.chat_requests()]
    first_summary = order.index("summary")
    assert order[first_summary - 1] == "answer", "a summary follows the answer it was triggered by"


async def test_an_edit_inside_a_summarised_range_rewrites_the_summary(
    summarising_chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    for n in range(14):
        await say(summarising_chat, f"message {n}: {WORDS}", platform_message_id=f"p{n}")
        await summarising_chat.tasks.wait_idle()
    (before, *_) = await summaries(database)
    assert before.text.startswith("SUMMARY")

    assert await summarising_chat.edit_user_message(PLACE, "p0", "message 0 was EDITED")
    await summarising_chat.tasks.wait_idle()

    (after, *_) = await summaries(database)
    assert after.id == before.id and not after.stale
    rewrite = [r for r in openai_fake.chat_requests() if is_summary_request(r)][-1]
    excerpt = rewrite["messages"][1]["content"]
    assert "the user: message 0 was EDITED" in excerpt
    assert "the user: message 0: alpha" not in excerpt, "the user's own words are read as they are now"


async def test_a_failing_summary_call_changes_nothing_and_is_retried_later(
    summarising_chat: ChatService, openai_fake: FakeOpenAI, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    summarising_chat.tasks.backoff = 0.01
    summarising_chat.tasks.retries = 0
    failing = True

    def broken_summaries(request: dict[str, Any]) -> Any:
        if is_summary_request(request) and failing:
            return Error(500, "the summary model is down")
        return responder(request)

    openai_fake.default = broken_summaries
    with caplog.at_level(logging.WARNING, logger="core.tasks"):
        await talk(summarising_chat, 12)
    assert await summaries(database) == []
    assert any("summarize" in r.getMessage() for r in caplog.records)
    # The plain window carried on: the newest message is answered with what fits.
    last_answer = [r for r in openai_fake.chat_requests() if not is_summary_request(r)][-1]
    assert "message 11:" in str(last_answer["messages"])

    failing = False
    await talk(summarising_chat, 1, start=12)
    assert len(await summaries(database)) >= 1


async def test_summaries_fold_into_a_higher_level_that_knows_its_range(
    summarising_chat: ChatService, database: Database, openai_fake: FakeOpenAI
) -> None:
    await talk(summarising_chat, 40)

    rows = await summaries(database)
    higher = [s for s in rows if s.level >= 1]
    assert higher, "summaries of summaries were written"
    top = higher[-1]
    children = sorted((s for s in rows if s.parent_id == top.id), key=lambda s: s.first_message_id)
    assert children and top.first_message_id == children[0].first_message_id
    assert top.last_message_id == children[-1].last_message_id
    # The prompt stays under the budget with the summaries present.
    await say(summarising_chat, "still there?")
    request = openai_fake.chat_requests()[-1]
    words = sum(len(str(m["content"]).split()) for m in request["messages"])
    assert words < 1_200
