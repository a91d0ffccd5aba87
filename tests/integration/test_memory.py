"""Long-term memory through the real openai client against the fake, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update

from core.chat.steps import FinishedTurn, HistoryChange, TurnFacts
from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Base, Message
from core.db.models_memory import FTS_TABLE
from core.db.repositories import UserRecord
from core.llm import OpenAIModel, ToolCall
from core.memory import fts
from core.memory.commands import MemoryCommands
from core.memory.embedder import Embedder
from core.memory.slash import forgotten_text, listing_text, matches_text
from core.memory.steps import ExtractMemoriesStep, IndexMessagesStep, RecallStep, ReindexOnChange
from core.memory.tool import ForgetMemoryTool, SearchMemoryTool
from core.tokens import TokenCounter
from core.tools.registry import ToolContext, ToolRegistry
from core.types import ConversationRef, IncomingMessage, MessageStatus, PlatformIdentity
from tests.fakes.openai_server import Error, FakeOpenAI, Hang, Reply, topic_embedding
from tests.memory_helpers import Memory, add_conversation, add_message, add_user, build_memory

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def memory(database: Database, model: OpenAIModel, openai_fake: FakeOpenAI) -> Memory:
    openai_fake.embedder = topic_embedding
    return build_memory(database, model, ManualClock(START))


async def history(db: Database, user: UserRecord, platform: str, lines: list[str], at: datetime) -> list[int]:
    """A conversation of ``user`` on ``platform``: lines alternate user / assistant, a minute apart."""
    conversation = await add_conversation(db, user.id, platform, f"{platform}-{user.id}-{at:%d}", at)
    ids = []
    for n, line in enumerate(lines):
        role = "user" if n % 2 == 0 else "assistant"
        ids.append(await add_message(db, conversation, role, line, at + timedelta(minutes=n), author=user.id))
    return ids


def turn_of(user: UserRecord, user_message_id: int, answer_id: int, said: str, answer: str) -> FinishedTurn:
    incoming = IncomingMessage(
        ConversationRef("test", "w", "dm"), PlatformIdentity("test", "w", str(user.id)), said, START
    )
    facts = TurnFacts(incoming, user, user.id, 1, user_message_id, answer_id, START, PARIS)
    return FinishedTurn(facts, answer, MessageStatus.COMPLETE)


def context_for(user: UserRecord) -> ToolContext:
    return ToolContext(user=user, conversation_id=1, now=START, timezone=PARIS)


async def test_search_finds_what_a_user_said_across_conversations_and_platforms(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    await history(database, alice, "discord", ["My sister Ana lives in Lisbon", "Lisbon is lovely."], START)
    await history(
        database, alice, "slack", ["The quarterly budget review is on Friday", "Noted."], START + timedelta(days=30)
    )
    assert await memory.store.index_pending(alice.id) == 4

    hits = await memory.search.search(alice.id, "where does Ana live?")
    budget = await memory.search.search(alice.id, "budget review")
    never = await memory.search.search(alice.id, "favourite football club")

    assert hits[0].text == "My sister Ana lives in Lisbon"
    assert (hits[0].platform, hits[0].speaker, hits[0].created_at) == ("discord", "Alice", START)
    assert budget[0].text == "The quarterly budget review is on Friday" and budget[0].platform == "slack"
    assert never == []


async def test_a_users_search_never_returns_another_users_messages_or_memories(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    bob = await add_user(database, "Bob")
    await history(database, alice, "discord", ["My cat Whiskers hates the vet", "Poor Whiskers."], START)
    await memory.store.index_pending(alice.id)
    await memory.store.remember(alice.id, "The user's cat is called Whiskers.")
    await history(database, bob, "discord", ["I repaired my bicycle", "Well done."], START)
    await memory.store.index_pending(bob.id)
    alices = (await memory.store.list_memories(alice.id))[0]
    # A model naming another user's memory as the one to replace changes nothing of hers.
    await memory.store.remember(bob.id, "The user has no pets.", replaces=alices.id)

    assert await memory.search.search(bob.id, "cat Whiskers vet") == []
    assert [m.text for m in await memory.store.list_memories(alice.id)] == ["The user's cat is called Whiskers."]
    tool = await SearchMemoryTool(memory.search).run({"query": "Whiskers the cat"}, context_for(bob))
    assert tool == "Nothing found in memory about that."
    assert {h.text for h in await memory.search.search(alice.id, "Whiskers")} == {
        "My cat Whiskers hates the vet",
        "Poor Whiskers.",
        "The user's cat is called Whiskers.",
    }


async def test_an_edited_message_is_reindexed_and_a_deleted_one_leaves_the_index(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    first, _, third, _ = await history(
        database, alice, "discord", ["I adopted a parrot", "Lovely.", "My dentist is Dr Moreau", "OK."], START
    )
    await memory.store.index_pending(alice.id)
    assert [h.id for h in await memory.search.search(alice.id, "parrot")] == [first]

    async with database.engine.begin() as conn:
        await conn.execute(
            update(Message)
            .where(Message.id == first)
            .values(content="I adopted a tortoise", edited_at=START + timedelta(hours=1))
        )
        await conn.execute(update(Message).where(Message.id == third).values(content="", deleted_at=START))
    assert await memory.store.index_pending(alice.id) == 1

    assert await memory.search.search(alice.id, "parrot") == []
    assert [h.text for h in await memory.search.search(alice.id, "tortoise")] == ["I adopted a tortoise"]
    assert await memory.search.search(alice.id, "dentist Moreau") == []


async def test_a_repeated_memory_updates_the_old_one_and_a_contradiction_replaces_it(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    first = await memory.store.remember(alice.id, "The user is vegetarian.")
    memory.clock.advance(days=1)
    again = await memory.store.remember(alice.id, "The user is vegetarian")
    memory.clock.advance(days=1)
    newer = await memory.store.remember(alice.id, "The user eats fish again.", replaces=first.memory.id)

    assert (first.action, again.action, newer.action) == ("added", "updated", "replaced")
    assert again.memory.id == first.memory.id
    assert [m.text for m in await memory.store.list_memories(alice.id)] == ["The user eats fish again."]
    found = await memory.search.search(alice.id, "vegetarian", kinds=("memory",))
    assert [h.text for h in found] == []
    async with database.engine.connect() as conn:
        old = (
            await conn.execute(text("SELECT superseded_by FROM memories WHERE id = :id"), {"id": first.memory.id})
        ).one()
    assert old.superseded_by == newer.memory.id


async def test_after_a_turn_memories_are_extracted_and_recalled_on_a_later_turn(
    database: Database, memory: Memory, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    alice = await add_user(database, "Alice")
    said, answer = "Remember that my sister Ana's birthday is on 14 May", "I'll remember Ana's birthday."
    user_id, answer_id = await history(database, alice, "discord", [said, answer], START)
    openai_fake.queue(
        Reply(
            json.dumps(
                {"memories": [{"text": "Ana, the user's sister, has her birthday on 14 May.", "replaces": None}]}
            )
        )
    )
    turn = turn_of(alice, user_id, answer_id, said, answer)

    await IndexMessagesStep(memory.store).after_answer(turn)
    await ExtractMemoriesStep(memory.store, memory.search, model).after_answer(turn)
    recall = RecallStep(memory.search, TokenCounter(), token_budget=200)
    later = turn_of(alice, user_id, answer_id, "What should I buy Ana for her birthday?", "")
    note = await recall.before_model(later.facts)
    unrelated = await recall.before_model(turn_of(alice, user_id, answer_id, "How do volcanoes form?", "").facts)

    request = openai_fake.chat_requests()[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert said in request["messages"][-1]["content"]
    memories = await memory.store.list_memories(alice.id)
    assert [(m.text, m.source_message_id) for m in memories] == [
        ("Ana, the user's sister, has her birthday on 14 May.", user_id)
    ]
    assert (
        note is not None and "Ana, the user's sister, has her birthday on 14 May. (noted 2026-03-02)" in note.notes[0]
    )
    assert unrelated is None
    assert [h.id for h in await memory.search.search(alice.id, "sister Ana birthday", kinds=("message",))][:1] == [
        user_id
    ]


async def test_a_malformed_extraction_answer_stores_nothing(
    database: Database, memory: Memory, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    alice = await add_user(database, "Alice")
    user_id, answer_id = await history(database, alice, "discord", ["I live in Porto", "Nice."], START)
    openai_fake.queue(Reply("Sure! The user lives in Porto."))

    await ExtractMemoriesStep(memory.store, memory.search, model).after_answer(
        turn_of(alice, user_id, answer_id, "I live in Porto", "Nice.")
    )

    assert await memory.store.list_memories(alice.id) == []


async def test_with_the_embedding_endpoint_slow_recall_uses_the_previous_message_of_the_conversation(
    database: Database, memory: Memory, openai_fake: FakeOpenAI
) -> None:
    alice = await add_user(database, "Alice")
    said, _ = await history(database, alice, "discord", ["My sister Ana moved to Lisbon", "Exciting!"], START)
    await memory.store.index_pending(alice.id)
    await memory.store.remember(alice.id, "The user's sister Ana lives in Lisbon.")
    async with database.engine.connect() as conn:
        conversation = await conn.scalar(select(Message.conversation_id).where(Message.id == said))
    new = await add_message(database, conversation, "user", "What should I bring her?", START, author=alice.id)
    openai_fake.queue_for("embeddings", Hang(0.3), Hang(0.3))
    recall = RecallStep(memory.search, TokenCounter(), timeout=0.5, wait=0)

    facts = turn_of(alice, new, new + 1, "What should I bring her?", "").facts
    note = await recall.before_model(replace(facts, conversation_id=conversation))
    first_turn = await recall.before_model(turn_of(alice, said, said + 1, "What should I bring her?", "").facts)
    await recall.drain()

    assert note is not None and "- The user's sister Ana lives in Lisbon. (noted 2026-03-02)" in note.notes[0]
    assert first_turn is None  # no earlier message to recall from, and no waiting for the endpoint


async def test_the_search_memory_tool_reports_date_platform_and_speaker_and_honours_dates(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    await history(database, alice, "discord", ["We booked the hotel in Kyoto", "Great choice."], START)
    await history(database, alice, "slack", ["The Kyoto trip moved to October", "Updated."], START + timedelta(days=40))
    await memory.store.index_pending(alice.id)
    registry = ToolRegistry.of([SearchMemoryTool(memory.search)])

    everything = await registry.run(ToolCall("c1", "search_memory", '{"query": "Kyoto trip"}'), context_for(alice))
    march = await registry.run(
        ToolCall("c2", "search_memory", '{"query": "Kyoto", "since": "2026-03-01", "until": "2026-03-31"}'),
        context_for(alice),
    )
    bad = await registry.run(
        ToolCall("c3", "search_memory", '{"query": "Kyoto", "since": "last March"}'), context_for(alice)
    )

    assert "[Sat 2026-04-11 11:00 CEST · slack · Alice] The Kyoto trip moved to October" in everything.content
    assert "[Mon 2026-03-02 10:00 CET · discord · Alice] We booked the hotel in Kyoto" in everything.content
    assert "October" not in march.content and "We booked the hotel in Kyoto" in march.content
    assert bad.is_error and "'since' must be a date like 2026-03-01" in bad.content
    assert registry.status_for("search_memory") == "Searching memory…"


async def test_memory_commands_list_newest_first_search_and_forget_by_number(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    commands = MemoryCommands(database, memory.store, memory.search)
    empty = listing_text(await commands.listing(alice.id), PARIS)
    await memory.store.remember(alice.id, "The user's sister is Ana.")
    memory.clock.advance(days=3)
    await memory.store.remember(alice.id, "The user plays the cello.")

    listing = listing_text(await commands.listing(alice.id), PARIS)
    found = matches_text(await commands.matching(alice.id, "cello"), PARIS)
    forgot = forgotten_text(await commands.forget_number(alice.id, 2))
    wrong = forgotten_text(await commands.forget_number(alice.id, 7))

    assert empty == "I don't remember anything about you yet."
    assert listing.splitlines()[1:3] == [
        "1. The user plays the cello. (2026-03-05)",
        "2. The user's sister is Ana. (2026-03-02)",
    ]
    assert found.splitlines()[1:] == ["1. The user plays the cello. (2026-03-05)"]
    assert forgot == "Forgotten: The user's sister is Ana."
    assert wrong == "There is no memory number 7; /memory shows 1."
    assert await memory.search.search(alice.id, "sister Ana") == []


async def test_forget_me_leaves_nothing_of_the_user_in_any_table(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    bob = await add_user(database, "Bob")
    alice_ids = await history(database, alice, "discord", ["My passport number is in the drawer", "OK."], START)
    bob_ids = await history(database, bob, "slack", ["My passport expires soon", "Renew it."], START)
    # Alice also spoke in Bob's conversation (a shared thread).
    async with database.engine.connect() as conn:
        bob_conversation = await conn.scalar(select(Message.conversation_id).where(Message.id == bob_ids[0]))
    shared = await add_message(
        database, bob_conversation, "user", "Alice here: passport office opens at 9", START, author=alice.id
    )
    for user in (alice, bob):
        await memory.store.index_pending(user.id)
    await memory.store.remember(alice.id, "The user keeps the passport in the drawer.", source_message_id=alice_ids[0])
    await memory.store.remember(bob.id, "The user's passport expires soon.", source_message_id=shared)

    reply = await MemoryCommands(database, memory.store, memory.search).forget_me(alice.id)

    assert reply["users"] == 1, "her user row went, with the rest"
    alice_messages = {*alice_ids, shared}
    async with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).mappings().all()
            for row in rows:
                for column in table.columns:
                    targets = {fk.column.table.name for fk in column.foreign_keys}
                    value = row[column.name]
                    if table.name == "users" and column.name == "id" or "users" in targets:
                        assert value != alice.id, f"{table.name}.{column.name} still holds Alice"
                    if table.name == "messages" and column.name == "id" or "messages" in targets:
                        assert value not in alice_messages, f"{table.name}.{column.name} still holds her message"
        if database.dialect == "sqlite":
            left = await conn.scalar(text(f"SELECT count(*) FROM {FTS_TABLE} WHERE user_id = :u"), {"u": alice.id})
            assert left == 0
    assert await memory.search.search(alice.id, "passport drawer") == []
    assert [h.text for h in await memory.search.search(bob.id, "passport")][:1] == ["My passport expires soon"]
    assert [m.text for m in await memory.store.list_memories(bob.id)] == ["The user's passport expires soon."]


async def test_small_talk_and_users_without_memories_cost_no_model_calls(
    database: Database, memory: Memory, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    alice = await add_user(database, "Alice")
    user_id, answer_id = await history(database, alice, "discord", ["ok thanks", "You're welcome."], START)

    note = await RecallStep(memory.search, TokenCounter()).before_model(
        turn_of(alice, user_id, answer_id, "What's my sister's name?", "").facts
    )
    await ExtractMemoriesStep(memory.store, memory.search, model).after_answer(
        turn_of(alice, user_id, answer_id, "ok thanks", "You're welcome.")
    )

    assert note is None
    assert openai_fake.requests == []


async def test_backfill_indexes_the_history_of_every_user_once(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    bob = await add_user(database, "Bob")
    await history(database, alice, "discord", ["I collect vinyl records", "Nice.", "Mostly jazz vinyl", "Cool."], START)
    await history(database, bob, "slack", ["I grow tomatoes on the balcony", "Lovely."], START)

    first = await memory.store.backfill(batch=3)
    second = await memory.store.backfill(batch=3)

    assert (first, second) == (6, 0)
    assert [h.text for h in await memory.search.search(bob.id, "tomatoes balcony")] == [
        "I grow tomatoes on the balcony"
    ]
    assert await memory.search.search(alice.id, "tomatoes balcony") == []


async def test_the_history_listener_reindexes_an_edit_and_drops_a_forgotten_message(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    said, answer = await history(database, alice, "slack", ["My locker code is 4471", "Got it."], START)
    await memory.store.index_pending(alice.id)
    async with database.engine.connect() as conn:
        conversation = await conn.scalar(select(Message.conversation_id).where(Message.id == said))
    listener = ReindexOnChange(memory.store)

    async with database.engine.begin() as conn:
        await conn.execute(
            update(Message)
            .where(Message.id == said)
            .values(content="My bike lock combination is 9902", edited_at=START + timedelta(minutes=5))
        )
    await listener.history_changed(HistoryChange(conversation, said, "edited"))
    old_words = await memory.search.search(alice.id, "locker code")
    after_edit = [h.text for h in await memory.search.search(alice.id, "bike lock combination")]
    async with database.engine.begin() as conn:
        await conn.execute(update(Message).where(Message.id.in_([said, answer])).values(forgotten_at=START))
    await listener.history_changed(HistoryChange(conversation, None, "forgotten"))

    assert old_words == []
    assert after_edit == ["My bike lock combination is 9902"]
    assert await memory.search.search(alice.id, "bike lock combination") == []


async def test_forget_that_in_chat_deletes_the_closest_memory_only(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    await memory.store.remember(alice.id, "The user's sister Ana lives in Lisbon.")
    await memory.store.remember(alice.id, "The user plays the cello.")
    registry = ToolRegistry.of([ForgetMemoryTool(memory.search)])

    done = await registry.run(
        ToolCall("c1", "forget_memory", '{"fact": "my sister lives in Lisbon"}'), context_for(alice)
    )
    nothing = await registry.run(ToolCall("c2", "forget_memory", '{"fact": "my tax number"}'), context_for(alice))

    assert done.content == "Deleted the memory: The user's sister Ana lives in Lisbon."
    assert nothing.content.startswith("No remembered fact matches that closely; nothing was deleted.")
    assert [m.text for m in await memory.store.list_memories(alice.id)] == ["The user plays the cello."]


async def test_the_same_fact_told_twice_at_once_makes_one_memory(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")

    first, second = await asyncio.gather(
        memory.store.remember(alice.id, "The user's sister is Ana."),
        memory.store.remember(alice.id, "The user's sister is Ana."),
    )

    assert sorted([first.action, second.action]) == ["added", "updated"]
    assert [m.text for m in await memory.store.list_memories(alice.id)] == ["The user's sister is Ana."]


async def test_an_endpoint_refusing_dimensions_gets_the_models_own_size(
    model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    embedder = Embedder(model, dimensions=256)
    openai_fake.queue_for("embeddings", Error(400, "This model does not support specifying dimensions."))

    vectors = await embedder.embed(["hello there", "general kenobi"])

    sent = [r.json for r in openai_fake.requests_to("/v1/embeddings")]
    assert [("dimensions" in body) for body in sent] == [True, False]
    assert vectors.shape == (2, openai_fake.embedding_dim) and embedder.dimensions is None


async def test_full_text_search_of_memories_is_not_crowded_out_by_messages(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    await history(database, alice, "discord", [f"Kyoto note {n}: temples, Kyoto, Kyoto" for n in range(12)], START)
    await memory.store.index_pending(alice.id)
    await memory.store.remember(alice.id, "The user plans a trip to Kyoto in April.")

    async with database.engine.connect() as conn:
        memories = await fts.search(conn, alice.id, "Kyoto", 5, kinds=("memory",))
        everything = await fts.search(conn, alice.id, "Kyoto", 5)

    assert [hit.kind for hit in memories] == ["memory"]
    assert len(everything) == 5


async def test_recall_without_waiting_uses_the_previous_messages_vector_before_it_is_indexed(
    database: Database, memory: Memory, openai_fake: FakeOpenAI
) -> None:
    alice = await add_user(database, "Alice")
    await memory.store.remember(alice.id, "The user's sister Ana lives in Lisbon.")
    conversation = await add_conversation(database, alice.id, "discord", "dm-alice", START)
    first = await add_message(database, conversation, "user", "My sister Ana moved to Lisbon", START, author=alice.id)
    recall = RecallStep(memory.search, TokenCounter(), timeout=0.5, wait=0)
    first_turn = turn_of(alice, first, first + 1, "My sister Ana moved to Lisbon", "").facts
    await recall.before_model(replace(first_turn, conversation_id=conversation))
    # Indexing the turn embeds the message (its row is written later, in the background).
    await memory.store.embedder.embed(["My sister Ana moved to Lisbon"])
    second = await add_message(database, conversation, "user", "What should I bring her?", START, author=alice.id)
    openai_fake.queue_for("embeddings", Hang(0.3))

    facts = turn_of(alice, second, second + 1, "What should I bring her?", "").facts
    note = await recall.before_model(replace(facts, conversation_id=conversation))
    await recall.drain()

    assert note is not None and "- The user's sister Ana lives in Lisbon. (noted 2026-03-02)" in note.notes[0]


async def test_vectors_written_by_another_process_appear_without_a_query_on_the_way(
    database: Database, model: OpenAIModel, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    await memory.store.remember(alice.id, "The user is vegetarian.")
    assert [h.text for h in await memory.search.search(alice.id, "vegetarian food", kinds=("memory",))]
    other_process = build_memory(database, model, memory.clock)
    await other_process.store.remember(alice.id, "The user's sister Ana lives in Lisbon.")
    memory.store._vectors.max_age = 0  # the index is old enough to look for other processes' rows

    for _ in range(2):  # the first search starts the catch-up, a later one sees its rows
        await memory.search.search(alice.id, "sister Ana Lisbon", kinds=("memory",))
        await asyncio.sleep(0.05)
    hits = await memory.search.search(alice.id, "sister Ana Lisbon", kinds=("memory",))

    assert hits and hits[0].text == "The user's sister Ana lives in Lisbon."
