"""The turn's named places: before-model and after-answer steps, per-user tools, shared access decisions.

These are the seams later features plug into (recall, summaries, memory
extraction, Google tools); each test uses a small test-only step or tool the
way such a feature would, through the real openai client and both databases.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.chat import ChatService
from core.chat.steps import ContextAddition, FinishedTurn, TurnFacts
from core.db.database import Database
from core.db.repositories import UserRecord
from core.llm import OpenAIModel
from core.tasks import BackgroundTasks
from core.tools.registry import ToolBase, ToolContext, ToolRegistry
from core.types import ConversationRef, MessageStatus, PlatformIdentity
from tests.chat_helpers import ALICE, say
from tests.conftest import builtin_tools_for_tests, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls

BOB = PlatformIdentity("test", "w1", "bob", display_name="Bob")
BOB_PLACE = ConversationRef("test", "w1", "dm-bob")


@dataclass
class RecordingStep:
    """An after-answer step that records every finished turn it is given."""

    name: str = "recorder"
    seen: list[FinishedTurn] = field(default_factory=list)
    fail_times: int = 0
    release: asyncio.Event | None = None

    async def after_answer(self, turn: FinishedTurn) -> None:
        if self.release is not None:
            await self.release.wait()
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("the step failed this time")
        self.seen.append(turn)


@dataclass
class NoteStep:
    """A before-model step that adds one note, optionally after a delay."""

    note: str
    delay: float = 0.0
    name: str = "note"
    timeout: float = 5.0
    seen: list[TurnFacts] = field(default_factory=list)

    async def before_model(self, turn: TurnFacts) -> ContextAddition:
        self.seen.append(turn)
        await asyncio.sleep(self.delay)
        return ContextAddition(notes=[self.note])


class AliceOnlyTool(ToolBase):
    """A tool that can only work for Alice (as a Google tool works only for connected users)."""

    name = "alice_secret"
    description = "Something only Alice has."
    parameters: dict[str, Any] = {"type": "object", "properties": {}, "required": []}  # noqa: RUF012
    status = "Looking in Alice's drawer…"

    def __init__(self) -> None:
        self.asked_by: list[int] = []

    def available_for(self, user: UserRecord) -> bool:
        return user.display_name == "Alice"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        self.asked_by.append(context.user.id)
        return "the drawer holds a blue key"


async def test_an_after_answer_step_sees_the_stored_turn_without_delaying_it(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat = make_chat_service(database, model)
    release = asyncio.Event()
    step = RecordingStep(release=release)
    chat.pipeline.add_after_answer(step)
    openai_fake.queue(Reply("Noted, thanks."))

    reply = await say(chat, "my sister is Ana")

    # The answer is complete while the step is still waiting: it never holds the answer back.
    assert reply.text == "Noted, thanks." and reply.done is not None
    assert step.seen == [] and chat.tasks.running == 1
    release.set()
    await chat.tasks.wait_idle()
    (turn,) = step.seen
    assert turn.facts.text == "my sister is Ana"
    assert turn.answer_text == "Noted, thanks."
    assert turn.status == MessageStatus.COMPLETE
    assert turn.facts.user.display_name == "Alice"
    assert turn.facts.answer_message_id == reply.done.answer_message_id
    assert turn.facts.now == chat.clock()


async def test_a_failing_after_answer_step_is_retried_and_logged(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    chat = make_chat_service(database, model)
    chat.tasks.backoff = 0.01
    step = RecordingStep(fail_times=2)
    chat.pipeline.add_after_answer(step)
    openai_fake.queue(Reply("ok"))

    with caplog.at_level(logging.WARNING, logger="core.tasks"):
        await say(chat, "hello")
        await chat.tasks.wait_idle()

    assert len(step.seen) == 1, "the third attempt succeeded"
    assert sum("failed (attempt" in r.getMessage() for r in caplog.records) == 2


async def test_a_step_that_never_succeeds_is_reported_not_lost(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    chat = make_chat_service(database, model)
    chat.tasks.backoff = 0.01
    chat.pipeline.add_after_answer(RecordingStep(fail_times=99))
    openai_fake.queue(Reply("ok"))

    with caplog.at_level(logging.WARNING, logger="core.tasks"):
        await say(chat, "hello")
        await chat.tasks.wait_idle()

    assert chat.tasks.failures == 1
    assert any("failed after 4 attempts" in r.getMessage() for r in caplog.records)


async def test_stopping_waits_for_after_answer_work(database: Database, model: OpenAIModel) -> None:
    chat = make_chat_service(database, model)
    release = asyncio.Event()
    step = RecordingStep(release=release)
    chat.pipeline.add_after_answer(step)
    await say(chat, "hello")

    closing = asyncio.create_task(chat.close())
    await asyncio.sleep(0.05)
    assert not closing.done(), "close waits for the step"
    release.set()
    await closing
    assert len(step.seen) == 1
    assert chat.tasks.spawn("late", lambda: asyncio.sleep(0)) is None, "no new work once stopping"


async def test_before_model_steps_add_context_in_order(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat = make_chat_service(database, model)
    first, second = NoteStep("You remember: Alice's sister is Ana."), NoteStep("Today: dentist at 15:00.")
    chat.pipeline.add_before_model(first)
    chat.pipeline.add_before_model(second)

    await say(chat, "what is on today?")

    messages = openai_fake.last_messages()
    assert [m["content"] for m in messages[1:3]] == [first.note, second.note]
    assert all(m["role"] == "system" for m in messages[:3])
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith("what is on today?")
    assert first.seen[0].user.display_name == "Alice"


async def test_a_slow_before_model_step_is_skipped_not_waited_for(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    chat = make_chat_service(database, model)
    chat.pipeline.add_before_model(NoteStep("never shown", delay=30, timeout=0.05, name="slow recall"))
    chat.pipeline.add_before_model(NoteStep("shown"))
    openai_fake.queue(Reply("hi"))

    with caplog.at_level(logging.WARNING, logger="core.chat.pipeline"):
        reply = await say(chat, "hello")

    assert reply.text == "hi"
    contents = [m["content"] for m in openai_fake.last_messages()]
    assert "shown" in contents and "never shown" not in contents
    assert any("slow recall" in r.getMessage() for r in caplog.records)


async def test_a_summary_step_replaces_the_messages_it_covers(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat = make_chat_service(database, model)
    first = await say(chat, "the old question")
    assert first.started is not None
    covered = first.started.answer_message_id

    class Summary:
        name = "summary"
        timeout = 5.0

        async def before_model(self, turn: TurnFacts) -> ContextAddition:
            return ContextAddition(notes=["Summary: Alice asked an old question."], covers_up_to=covered)

    chat.pipeline.add_before_model(Summary())
    await say(chat, "the new question")

    contents = str(openai_fake.last_messages())
    assert "Summary: Alice asked an old question." in contents
    assert "the old question" not in contents and "the new question" in contents


async def test_tools_are_offered_per_user_and_know_who_asks(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    tool = AliceOnlyTool()
    chat = make_chat_service(database, model, tools=ToolRegistry.of([*builtin_tools_for_tests(), tool]))
    openai_fake.queue(ToolCalls([("alice_secret", {})]), Reply("It holds a blue key."))

    alice = await say(chat, "what is in my drawer?")
    offered_to_alice = [t["function"]["name"] for t in openai_fake.chat_requests()[0]["tools"]]
    await say(chat, "and for me?", author=BOB, place=BOB_PLACE)
    offered_to_bob = [t["function"]["name"] for t in openai_fake.chat_requests()[-1]["tools"]]

    assert "alice_secret" in offered_to_alice and "alice_secret" not in offered_to_bob
    assert "calculate" in offered_to_bob
    assert alice.statuses[0] == "Looking in Alice's drawer…"
    assert alice.text == "It holds a blue key."
    assert len(tool.asked_by) == 1


async def test_a_profile_change_in_one_process_is_seen_by_another_at_the_next_message(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    # Two services with their own engines stand for two bot processes sharing the database.
    other_db = Database(database.url)
    first, second = make_chat_service(database, model), make_chat_service(other_db, model)
    try:
        await say(first, "hello")  # the first process caches Alice's profile
        assert (await second.set_timezone(ALICE, "America/New_York")).zone == "America/New_York"

        await say(first, "what time is it?")

        assert "time zone America/New_York" in openai_fake.last_messages()[0]["content"]
    finally:
        await second.close()
        await other_db.dispose()


async def test_access_by_verified_email_follows_the_allowlist_and_links(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    from sqlalchemy import update

    from core.access import AccessPolicy
    from core.db.models import Identity, User
    from core.people import People

    allowed_emails = {"alice@example.org"}
    people = People(database, accounts=AccessPolicy(()), email_allowed=lambda email: email in allowed_emails)
    chat = ChatService(
        db=database,
        model=model,
        context=make_chat_service(database, model).context,
        tools=ToolRegistry.of(builtin_tools_for_tests()),
        people=people,
        tasks=BackgroundTasks(),
    )
    stranger = await say(chat, "hello?")
    assert stranger.error is not None and "private" in stranger.error
    async with database.session() as session:
        assert (await session.scalar(select_count(Identity))) == 0, "nothing stored for a stranger"

    # Signing in links the account to the user with that email (the identity issue's callback does this).
    async with database.session() as session, session.begin():
        user = User(email="alice@example.org", display_name="Alice", settings={}, created_at=chat.clock())
        session.add(user)
        await session.flush()
        session.add(
            Identity(
                user_id=user.id,
                platform="test",
                workspace="w1",
                platform_user_id="alice",
                display_name="Alice",
                created_at=chat.clock(),
            )
        )
    await people.changed()
    assert (await say(chat, "hello again")).error is None

    allowed_emails.clear()  # taken off the list: refused from the next message
    await people.changed()
    assert (await say(chat, "still there?")).error is not None

    allowed_emails.add("alice@example.org")
    await people.changed()
    async with database.session() as session, session.begin():
        await session.execute(update(Identity).values(platform_user_id="someone-else"))  # unlinked
    await people.changed()
    assert (await say(chat, "and now?")).error is not None


def select_count(model: Any) -> Any:
    from sqlalchemy import func, select

    return select(func.count()).select_from(model)
