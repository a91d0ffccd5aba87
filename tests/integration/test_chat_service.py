"""ChatService turns end to end: real openai client → fake server, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import aclosing
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from core.chat import INTERRUPTED_REASON, RESTART_REASON, ChatService
from core.chat.recovery import recover_interrupted
from core.chat.user_ops import TimezoneChange, timezone_text
from core.clock import ManualClock
from core.db.database import Database
from core.db.messages import MessageRepository
from core.db.models import Message
from core.llm import ModelNames, OpenAIModel
from core.locks import ADVISORY_NAMESPACE
from core.tools.registry import Tool, ToolContext, ToolInputError, ToolRegistry
from core.types import (
    AnswerComplete,
    ConversationRef,
    IncomingMessage,
    PlatformIdentity,
    StoredMessage,
    TextDelta,
    TurnDone,
    TurnStarted,
)
from tests.chat_helpers import ALICE, PLACE, say
from tests.conftest import make_chat_service
from tests.fakes.openai_server import Broken, Error, FakeOpenAI, Reply, ToolCalls


async def stored(database: Database) -> list[Message]:
    async with database.session() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


def user_texts(messages: list[dict]) -> list[str]:
    return [
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
        for m in messages
        if m["role"] == "user"
    ]


async def test_answer_streams_and_both_messages_are_stored(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Reply("Good morning! How can I help?", usage=(42, 7)))

    reply = await say(chat, "good morning")

    assert reply.text == "Good morning! How can I help?"
    assert sum(isinstance(e, TextDelta) for e in reply.events) > 3, "the answer arrives in pieces"
    assert reply.done is not None and reply.done.text == reply.text
    user, answer = await stored(database)
    assert (user.role, user.content, user.status) == ("user", "good morning", "complete")
    assert (answer.role, answer.content, answer.status) == ("assistant", reply.text, "complete")
    assert (answer.prompt_tokens, answer.completion_tokens) == (42, 7)
    assert answer.created_at.tzinfo is not None


async def test_model_sees_each_message_with_its_local_time(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    await say(chat, "remind me of this later", at=datetime(2026, 11, 24, 8, 5, tzinfo=UTC))
    await say(chat, "what did I say?", at=datetime(2026, 11, 24, 13, 30, tzinfo=UTC))

    messages = openai_fake.last_messages()
    assert "time zone Europe/Paris" in messages[0]["content"]
    assert user_texts(messages) == [
        "[Tue 2026-11-24 09:05 CET]\nremind me of this later",
        "[Tue 2026-11-24 14:30 CET]\nwhat did I say?",
    ]
    # The assistant's own answers are not stamped: models shown stamped answers start writing stamps.
    assistant = [m["content"] for m in messages if m["role"] == "assistant"]
    assert assistant == ["You said: [Tue 2026-11-24 09:05 CET]\nremind me of this later"]


async def test_messages_in_one_conversation_are_answered_in_order(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("first answer", first_delay=0.3), Reply("second answer"))

    first, second = await asyncio.gather(say(chat, "one"), say(chat, "two"))

    assert (first.text, second.text) == ("first answer", "second answer")
    # The second request was only made once the first answer was complete, and includes it.
    second_request = openai_fake.chat_requests()[1]["messages"]
    assert any("first answer" in str(m["content"]) for m in second_request if m["role"] == "assistant")


async def test_different_conversations_run_concurrently(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("slow one", first_delay=0.4), Reply("slow two", first_delay=0.4))
    bob_place = ConversationRef("test", "w1", "dm-bob")
    bob = PlatformIdentity("test", "w1", "bob")

    await asyncio.gather(say(chat, "hi"), say(chat, "hello", author=bob, place=bob_place))

    first, second = openai_fake.stream_log[:2]
    assert second.start_t < first.end_t, "the second conversation did not wait for the first"


async def test_model_failure_keeps_the_user_message_and_says_why(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Error(500, "upstream exploded"))

    reply = await say(chat, "are you there?")

    assert reply.error == "The model service failed (HTTP 500); try again shortly."
    user, answer = await stored(database)
    assert user.content == "are you there?" and user.status == "complete"
    assert answer.status == "failed" and answer.content == ""
    assert "HTTP 500" in answer.status_reason


async def test_broken_stream_keeps_the_partial_answer(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Broken("The answer starts well and then", after_chunks=4))

    reply = await say(chat, "tell me a story")

    assert reply.text == "The answer starts well "
    assert reply.error == "The connection to the model broke off in the middle of the answer."
    _, answer = await stored(database)
    assert answer.status == "partial" and answer.content == "The answer starts well "


async def test_bad_key_is_one_clear_sentence(database: Database, openai_fake: FakeOpenAI) -> None:
    model = OpenAIModel(api_key="sk-wrong", base_url=openai_fake.base_url, models=ModelNames(), max_retries=0)
    chat = make_chat_service(database, model)

    reply = await say(chat, "hello")

    assert reply.error == "The model service refused the API key; check OPENAI_API_KEY."
    assert "sk-wrong" not in str(reply.events)
    await model.close()


async def test_rate_limit_is_retried_by_the_client(database: Database, openai_fake: FakeOpenAI) -> None:
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), max_retries=2)
    chat = make_chat_service(database, model)
    openai_fake.queue(Error(429, "slow down", retry_after=0.01), Reply("here I am"))

    reply = await say(chat, "hello")

    assert reply.error is None and reply.text == "here I am"
    await model.close()


async def test_tool_call_loop_runs_the_tool_and_continues(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(
        ToolCalls([("calculate", {"expression": "1234 * 5678"})], text="Let me work that out."),
        Reply("It is 7,006,652."),
    )

    reply = await say(chat, "what is 1234 times 5678?")

    assert reply.text == "Let me work that out.\n\nIt is 7,006,652."
    assert reply.statuses == ["Calculating…", ""]
    followup = openai_fake.chat_requests()[1]["messages"]
    assert followup[-2]["tool_calls"][0]["function"]["name"] == "calculate"
    assert followup[-1] == {
        "role": "tool",
        "tool_call_id": followup[-2]["tool_calls"][0]["id"],
        "content": "1234 * 5678 = 7006652",
    }
    assert {t["function"]["name"] for t in openai_fake.chat_requests()[0]["tools"]} == {"calculate", "current_time"}


async def test_a_failing_tool_gives_the_model_an_error_not_a_crash(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(
        ToolCalls([("calculate", "{not json"), ("launch_rockets", {}), ("calculate", {"expression": "1/0"})]),
        Reply("Sorry, I could not calculate that."),
    )

    reply = await say(chat, "divide one by zero")

    assert reply.error is None and reply.text == "Sorry, I could not calculate that."
    tool_results = [m["content"] for m in openai_fake.chat_requests()[1]["messages"] if m["role"] == "tool"]
    assert tool_results[0].startswith("Error: the arguments were not valid JSON")
    assert tool_results[1] == "Error: there is no tool named 'launch_rockets'."
    assert tool_results[2] == "Error: division by zero"


async def test_a_tool_error_is_logged_at_info_without_the_users_words(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async def find_event(arguments: dict, _context: ToolContext) -> str:
        # As the Calendar tools do: the error quotes what it was given.
        raise ToolInputError(f"there is no event called {arguments['title']!r}.")

    finder = Tool("find_event", "Find an event", {"type": "object", "properties": {}}, find_event)
    chat = make_chat_service(database, model, tools=ToolRegistry.of([finder]))
    openai_fake.queue(ToolCalls([("find_event", {"title": "dinner with Ada Lovelace"})]), Reply("No such event."))

    with caplog.at_level("INFO", logger="core.toolloop.loop"):
        await say(chat, "when is my dinner with Ada Lovelace?")

    tool_result = [m for m in openai_fake.chat_requests()[1]["messages"] if m["role"] == "tool"][0]["content"]
    assert "Lovelace" in tool_result, "the model still sees the whole error"
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert "tool find_event returned an error to the model" in info
    assert not any("Lovelace" in line for line in info), info


async def test_strangers_are_refused_without_calling_the_model(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    mallory = PlatformIdentity("discord", "guild", "666", display_name="mallory")

    reply = await say(chat, "let me in", author=mallory, place=ConversationRef("discord", "guild", "dm-666"))

    assert reply.error is not None and "private" in reply.error
    assert openai_fake.chat_requests() == []
    assert await stored(database) == []


async def test_edits_and_deletes_change_what_the_model_sees_next(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    await say(chat, "my favourite colour is red", platform_message_id="m1")
    await say(chat, "my password is hunter2", platform_message_id="m2")

    assert await chat.edit_user_message(PLACE, "m1", "my favourite colour is green")
    assert await chat.delete_user_message(PLACE, "m2")
    await say(chat, "what do you know about me?")

    seen = " ".join(user_texts(openai_fake.last_messages()))
    assert "green" in seen and "red" not in seen and "hunter2" not in seen
    rows = await stored(database)
    edited = next(m for m in rows if m.platform_message_id == "m1")
    deleted = next(m for m in rows if m.platform_message_id == "m2")
    assert edited.edited_at is not None and edited.content == "my favourite colour is green"
    assert deleted.deleted_at is not None and deleted.content == ""
    assert not await chat.edit_user_message(PLACE, "no-such-message", "x")


async def test_forget_drops_the_last_exchange_from_context_only(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    await say(chat, "keep this")
    await say(chat, "oops, ignore this")

    assert await chat.forget_last_exchange(PLACE)
    await say(chat, "next")

    seen = user_texts(openai_fake.last_messages())
    assert [s.split("]\n", 1)[1] for s in seen] == ["keep this", "next"]
    assert len(await stored(database)) == 6, "forgetting keeps the rows"


async def test_new_conversation_starts_with_a_clean_context(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    await say(chat, "old topic")
    await chat.new_conversation(PLACE)
    await say(chat, "new topic")

    assert [s.split("]\n", 1)[1] for s in user_texts(openai_fake.last_messages())] == ["new topic"]
    history = await chat.history(PLACE)
    assert [m.content for m in history][0] == "new topic"
    assert all(type(m) is StoredMessage for m in history), "plain records leave the core, not database rows"


async def test_context_stays_under_the_token_budget(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat = make_chat_service(database, model, token_budget=1_000)
    openai_fake.default = lambda _request: Reply("ok")
    for n in range(30):
        await say(chat, f"message number {n}: " + "lorem ipsum dolor sit amet " * 10)

    messages = openai_fake.last_messages()
    counter = chat.context.counter
    total = sum(counter.message(m["content"]) for m in messages) + 3
    assert total <= 1_000
    assert "message number 29" in user_texts(messages)[-1]
    assert "message number 0:" not in str(messages)


async def test_a_cancelled_turn_keeps_the_partial_answer(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Reply("one two three four five six seven", delay=0.05))
    incoming = IncomingMessage(PLACE, ALICE, "count for me", chat.clock())

    seen = ""
    async with aclosing(chat.turn(incoming)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                seen += event.text
                if len(seen) > 6:
                    break

    user, answer = await stored(database)
    assert user.content == "count for me"
    assert answer.status == "partial" and answer.content == seen
    assert answer.status_reason == INTERRUPTED_REASON  # what /history shows: "partial: stopped before it was finished"


async def test_answer_is_checkpointed_while_it_streams(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat = make_chat_service(database, model, checkpoint_interval=0.01)
    openai_fake.queue(Reply("a b c d e f g h i j", delay=0.03))
    incoming = IncomingMessage(PLACE, ALICE, "letters please", chat.clock())

    snapshots: list[str] = []
    async with aclosing(chat.turn(incoming)) as events:
        async for event in events:
            if isinstance(event, TurnStarted):
                answer_id = event.answer_message_id
            if isinstance(event, TextDelta):
                async with database.session() as session:
                    snapshots.append((await session.get(Message, answer_id)).content)

    assert any(0 < len(s) < len("a b c d e f g h i j") for s in snapshots)


async def test_restart_recovery_marks_cut_answers_partial(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Reply("this answer never finishes", delay=0.05))
    incoming = IncomingMessage(PLACE, ALICE, "go", chat.clock())
    events = chat.turn(incoming)
    started = await anext(events)
    assert isinstance(started, TurnStarted)
    await chat.record_platform_parts(started.answer_message_id, ["p1"])
    await chat.messages.checkpoint(started.answer_message_id, "this answer")
    # The process "dies": nothing closes the stream, its database connections drop,
    # and a new service starts on the same database.
    if database.dialect == "postgresql":
        async with database.engine.connect() as conn:
            await conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :ns"),
                {"ns": ADVISORY_NAMESPACE},
            )
    fresh = make_chat_service(database, chat.model)  # type: ignore[arg-type]

    interrupted = await fresh.recover_interrupted("test")

    assert [(a.message_id, a.text, a.platform_parts) for a in interrupted] == [
        (started.answer_message_id, "this answer", ("p1",))
    ]
    async with database.session() as session:
        answer = await session.get(Message, started.answer_message_id)
    assert answer.status == "partial" and answer.status_reason == RESTART_REASON
    assert await fresh.recover_interrupted("test") == []
    with contextlib.suppress(Exception):
        await events.aclose()


async def test_time_zone_setting_changes_the_stamps(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    unknown = await chat.set_timezone(ALICE, "Mars/Olympus")
    assert unknown == TimezoneChange(None, unknown="Mars/Olympus")
    assert timezone_text(unknown) == (
        "“Mars/Olympus” is not a time zone I know. Use an IANA name such as Europe/Paris or America/New_York."
    )
    assert await chat.set_timezone(ALICE, "America/New_York") == TimezoneChange("America/New_York")

    await say(chat, "hi", at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))

    assert user_texts(openai_fake.last_messages()) == ["[Wed 2026-07-01 08:00 EDT]\nhi"]


async def test_two_processes_on_one_database_keep_a_conversation_in_order(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    # Two services with their own engines stand for two bot processes sharing the database.
    other_db = Database(database.url)
    first, second = make_chat_service(database, model), make_chat_service(other_db, model)
    openai_fake.queue(Reply("first answer", first_delay=0.3), Reply("second answer"))

    one = asyncio.create_task(say(first, "one"))
    for _ in range(1000):  # "two" comes once "one" is being answered (under load that took more than 0.1 s)
        if openai_fake.chat_requests():
            break
        await asyncio.sleep(0.01)
    two = asyncio.create_task(say(second, "two"))
    replies = await asyncio.gather(one, two)

    assert [r.text for r in replies] == ["first answer", "second answer"]
    if database.dialect == "postgresql":
        # Across processes only the advisory lock can keep the order.
        assert openai_fake.stream_log[1].start_t >= openai_fake.stream_log[0].end_t
        assert "first answer" in str(openai_fake.chat_requests()[1]["messages"])
    await other_db.dispose()


# SQLite is one process's database: every streaming answer found at start there is dead.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_recovery_leaves_an_answer_that_another_process_is_still_writing(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    other_db = Database(database.url)
    writer, restarted = make_chat_service(database, model), make_chat_service(other_db, model)
    openai_fake.queue(Reply("a slow answer being written", first_delay=0.5))
    events = writer.turn(IncomingMessage(PLACE, ALICE, "go", writer.clock()))
    started = await anext(events)
    assert isinstance(started, TurnStarted)

    assert await restarted.recover_interrupted("test") == []

    rest = [event async for event in events]
    assert any(isinstance(e, TextDelta) for e in rest)
    async with database.session() as session:
        assert (await session.get(Message, started.answer_message_id)).status == "complete"
    await other_db.dispose()


async def test_the_kept_window_matches_a_fresh_read_even_when_another_process_writes(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    other_db = Database(database.url)
    here, elsewhere = make_chat_service(database, model, token_budget=1_500), make_chat_service(other_db, model)
    openai_fake.default = lambda request: Reply("noted " + str(len(request["messages"])))
    for n in range(12):
        await say(here, f"note {n}: " + "some words to fill the window " * 4, platform_message_id=f"m{n}")

    # Another process answers in the same conversation, then edits and deletes messages.
    await say(elsewhere, "written by the other process")
    await say(here, "after the other process")
    with_other = str(openai_fake.last_messages())
    assert "written by the other process" in with_other
    assert await elsewhere.edit_user_message(PLACE, "m11", "note 11 was changed elsewhere")
    assert await elsewhere.delete_user_message(PLACE, "m10")
    await say(here, "and now?")
    kept = openai_fake.last_messages()

    fresh = make_chat_service(database, model, token_budget=1_500)
    fresh_reply = await say(fresh, "and now?")
    from_scratch = openai_fake.last_messages()
    assert fresh_reply.error is None
    # Same window (the fresh one also holds the extra turn the kept one produced).
    assert kept[1:] == from_scratch[1 : len(kept)]
    assert "note 11 was changed elsewhere" in str(kept) and "note 10:" not in str(kept)
    await other_db.dispose()


async def test_the_reported_token_count_is_exact(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    from core.tokens import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY

    openai_fake.default = lambda _request: Reply("\nan answer that starts with a new line")
    for said in ("hello", "  leading spaces", "🙂 emoji and ```code```", "last one"):
        await say(chat, said)
    started = await chat.messages.start_turn(
        conversation_id=1,
        author_user_id=1,
        text="probe",
        token_count=chat.context.counter.count("probe"),
        created_at=chat.clock(),
        attachments=[],
        platform_message_id="",
        model="m",
    )
    window = await chat.runner.windows.load(1, started, "Europe/Paris", 10_000)
    built = chat.context.build(system_text="system", window=list(window.entries))

    counter = chat.context.counter
    expected = TOKENS_PER_REPLY + sum(counter.count(m["content"]) + TOKENS_PER_MESSAGE for m in built.messages)
    assert built.token_count == expected


async def test_a_database_restart_between_turns_loses_nothing(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    await say(chat, "before the restart")
    if database.dialect == "postgresql":
        # What a server restart does to our pooled connections (the lock pool's and the main pool's).
        async with database.engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )

    reply = await say(chat, "after the restart")

    assert reply.error is None and reply.text.endswith("after the restart")
    assert [m.content for m in await stored(database) if m.role == "user"] == [
        "before the restart",
        "after the restart",
    ]


async def test_a_message_edited_or_deleted_while_it_waits_is_answered_as_it_ends_up(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(Reply("first answer", first_delay=0.4))
    first = asyncio.create_task(say(chat, "a slow question", platform_message_id="q1"))
    await asyncio.sleep(0.1)
    typo = asyncio.create_task(say(chat, "waht is teh captial of Frnace", platform_message_id="q2"))
    regret = asyncio.create_task(say(chat, "my bank pin is 1234", platform_message_id="q3"))
    await asyncio.sleep(0.05)

    assert await chat.edit_user_message(PLACE, "q2", "what is the capital of France?")
    assert await chat.delete_user_message(PLACE, "q3")
    await first
    fixed, deleted = await typo, await regret

    assert fixed.error is None and "what is the capital of France?" in fixed.text
    assert deleted.error == "You deleted that message before I got to it, so I left it unanswered."
    contents = [m.content for m in await stored(database) if m.role == "user"]
    assert contents == ["a slow question", "what is the capital of France?"]
    assert "1234" not in str(openai_fake.chat_requests())


async def test_an_edit_that_changes_nothing_leaves_the_message_alone(chat: ChatService, database: Database) -> None:
    await say(chat, "see https://example.org", platform_message_id="m1")

    assert await chat.edit_user_message(PLACE, "m1", "see https://example.org")

    [user] = [m for m in await stored(database) if m.role == "user"]
    assert user.edited_at is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # several processes share only PostgreSQL
async def test_new_in_one_process_is_seen_by_another(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    other_db = Database(database.url)
    here, elsewhere = make_chat_service(database, model), make_chat_service(other_db, model)
    await say(here, "old topic")

    await elsewhere.new_conversation(PLACE)
    await say(here, "new topic")

    assert "old topic" not in str(openai_fake.last_messages())
    await other_db.dispose()


async def test_an_answer_that_starts_with_a_stamp_is_shown_and_stored_without_it(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    openai_fake.queue(
        Reply(
            "[Tue 2026-11-24 13:00 CET]\nHello Alice.", chunks=["[Tue 2026-11-24", " 13:00 CET]\n", "Hello", " Alice."]
        )
    )

    reply = await say(chat, "hi")

    assert reply.text == "Hello Alice."
    assert (await stored(database))[-1].content == "Hello Alice."


async def test_a_long_silence_is_stated_to_the_model(chat: ChatService, openai_fake: FakeOpenAI) -> None:
    clock = chat.clock
    assert isinstance(clock, ManualClock)
    clock.set(datetime(2026, 11, 20, 17, 0, tzinfo=UTC))
    await say(chat, "see you")
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    await say(chat, "back again")
    quiet_after = [m["content"] for m in openai_fake.last_messages() if m["role"] == "system"]

    clock.advance(minutes=1)
    await say(chat, "and a minute later")
    no_gap = [m["content"] for m in openai_fake.last_messages() if m["role"] == "system"]

    assert any("was 3 days ago" in text for text in quiet_after)
    assert not any("ago, at" in text for text in no_gap)


async def test_a_message_keeps_its_place_in_line_while_its_files_download(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    from core.types import Attachment, AttachmentKind

    async def slow_download() -> tuple[Attachment, ...]:
        await asyncio.sleep(0.3)  # a photo on a slow link
        return (Attachment(AttachmentKind.FILE, "notes.txt", "text/plain", b"hello"),)

    photo = IncomingMessage(PLACE, ALICE, "here is the file", chat.clock(), fetch_attachments=slow_download)

    async def send_photo() -> None:
        async with aclosing(chat.turn(photo)) as events:
            async for _ in events:
                pass

    first = asyncio.create_task(send_photo())
    await asyncio.sleep(0.05)
    await say(chat, "and this came right after")
    await first

    stored_messages = [m.content for m in await stored(database) if m.role == "user"]
    assert stored_messages == ["here is the file", "and this came right after"]
    first_request = user_texts(openai_fake.chat_requests()[0]["messages"])
    assert first_request[-1].endswith("here is the file\n[attached file: notes.txt]")


async def test_a_message_whose_files_all_fail_to_download_is_not_answered_blindly(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    async def nothing() -> tuple:
        return ()

    events = []
    async with aclosing(chat.turn(IncomingMessage(PLACE, ALICE, "", chat.clock(), fetch_attachments=nothing))) as it:
        async for event in it:
            events.append(event)

    assert [type(e).__name__ for e in events] == ["TurnError"]
    assert openai_fake.chat_requests() == []
    assert await stored(database) == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_hundred_conversations_at_once_fit_in_the_servers_connections(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    # A running turn holds its conversation's lock, not a connection: PostgreSQL's default
    # max_connections is 100, and one connection per running turn ran out of them.
    chat = make_chat_service(database, model, allowed=("test:*",))
    openai_fake.default = lambda request: Reply("answered", first_delay=0.5)
    people = [PlatformIdentity("test", "w1", f"user{n}", display_name=f"User {n}") for n in range(100)]

    replies = await asyncio.gather(
        *(
            say(chat, "hello", author=person, place=ConversationRef("test", "w1", f"dm-{n}"))
            for n, person in enumerate(people)
        )
    )

    assert [reply.text for reply in replies] == ["answered"] * 100
    async with database.engine.connect() as conn:
        statuses = (await conn.execute(select(Message.status).where(Message.role == "assistant"))).scalars().all()
    assert statuses == ["complete"] * 100
    await chat.close()


class _PausedRecovery(MessageRepository):
    """Recovery's own repository, pausing after it listed the ``streaming`` answers (before any lock)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.listed = asyncio.Event()
        self.go_on = asyncio.Event()

    async def interrupted(self, platform: str) -> list[tuple[Message, ConversationRef]]:
        found = await super().interrupted(platform)
        self.listed.set()
        await self.go_on.wait()
        return found


async def test_recovery_leaves_an_answer_whose_turn_stored_it_after_the_list_was_read(
    chat: ChatService, openai_fake: FakeOpenAI, database: Database
) -> None:
    # The interleaving seen on a CI run: recovery lists the answer while its final text
    # is shown but not yet stored; the turn stores it and lets go of the conversation;
    # then recovery finds the conversation free.
    openai_fake.queue(Reply("a finished answer"))
    events = chat.turn(IncomingMessage(PLACE, ALICE, "go", chat.clock()))
    async for event in events:
        if isinstance(event, AnswerComplete):
            break  # shown as final; the turn stores it when asked for its next event
    paused = _PausedRecovery(database)
    recovery = asyncio.create_task(recover_interrupted("test", messages=paused, locks=chat.locks, counter=chat.counter))
    await paused.listed.wait()
    rest = [event async for event in events]  # the final store, then the conversation is let go
    assert any(isinstance(e, TurnDone) for e in rest)
    paused.go_on.set()

    assert await recovery == []
    [_, answer] = await stored(database)
    assert (answer.status, answer.content, answer.status_reason) == ("complete", "a finished answer", "")
