"""What memory search returns, as the model sees it through search_memory, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import ManualClock
from core.db.database import Database
from core.db.repositories import UserRecord
from core.llm import OpenAIModel
from core.memory import fts
from core.memory.fusion import SearchOptions
from core.memory.tool import SearchMemoryTool
from core.tools.registry import ToolContext
from tests.fakes.openai_server import FakeOpenAI, topic_embedding
from tests.memory_helpers import Memory, add_conversation, add_message, add_user, build_memory

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def memory(database: Database, model: OpenAIModel, openai_fake: FakeOpenAI) -> Memory:
    openai_fake.embedder = topic_embedding
    return build_memory(database, model, ManualClock(START))


async def chat(db: Database, user: UserRecord, lines: list[str], at: datetime, name: str) -> tuple[int, list[int]]:
    """A conversation: lines alternate user / assistant, a minute apart; returns its id and the message ids."""
    conversation = await add_conversation(db, user.id, "discord", name, at)
    ids = []
    for n, line in enumerate(lines):
        role = "user" if n % 2 == 0 else "assistant"
        ids.append(await add_message(db, conversation, role, line, at + timedelta(minutes=n), author=user.id))
    return conversation, ids


async def test_the_tool_never_spends_a_slot_on_what_the_model_already_sees(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    await chat(database, alice, ["Our boat is moored in Kilkee harbour", "Nice."], START, "old")
    today, ids = await chat(
        database,
        alice,
        ["The Kilkee harbour fees went up", "Ouch.", "Where is our boat moored?"],
        START + timedelta(days=9),
        "now",
    )
    await memory.store.index_pending(alice.id)
    tool = SearchMemoryTool(memory.search)
    context = ToolContext(
        user=alice, conversation_id=today, now=START, timezone=PARIS, user_message_id=ids[2], in_view_from=ids[0]
    )

    result = await tool.run({"query": "Kilkee harbour boat moored"}, context)

    assert "Our boat is moored in Kilkee harbour" in str(result)
    assert "fees went up" not in str(result), "a message in the model's window is not returned again"
    assert "Where is our boat moored?" not in str(result), "nor the question being answered"


async def test_the_answer_ranks_above_the_users_own_earlier_question(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    await chat(database, alice, ["What is the name of the vet in Tralee?", "I don't know."], START, "asked")
    await chat(database, alice, ["The vet in Tralee is Dr Brennan", "Good to know."], START + timedelta(days=3), "told")
    await memory.store.index_pending(alice.id)

    hits = await memory.search.search(alice.id, "What is the name of the vet in Tralee?")

    assert hits[0].text == "The vet in Tralee is Dr Brennan"


async def test_a_question_about_something_never_discussed_finds_nothing(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    lines = ["how was your day", "fine, long meeting", "I made pancakes", "yum", "the train was late", "classic"]
    await chat(database, alice, [*lines, "My sister Ana lives in Lisbon", "Lovely city."], START, "c")
    await memory.store.index_pending(alice.id)
    tool = SearchMemoryTool(memory.search)
    context = ToolContext(user=alice, conversation_id=0, now=START, timezone=PARIS)

    assert (
        await tool.run({"query": "How many moons does Neptune have?"}, context) == "Nothing found in memory about that."
    )
    assert await tool.run({"query": "What is my blood type?"}, context) == "Nothing found in memory about that."
    assert "Lisbon" in str(await tool.run({"query": "Where does Ana live?"}, context))


async def test_a_short_reply_comes_with_the_turn_it_answers_and_keeps_its_date(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    await chat(
        database,
        alice,
        [
            "When is the Dingle regatta this year?",
            "Which day suits you?",
            "Dingle regatta: last Saturday of June",
            "ok",
        ],
        START,
        "c",
    )
    await memory.store.index_pending(alice.id)
    tool = SearchMemoryTool(memory.search)
    context = ToolContext(user=alice, conversation_id=0, now=START, timezone=PARIS)

    result = str(await tool.run({"query": "Dingle regatta"}, context))

    assert "[Mon 2026-03-02 10:02 CET · discord · Alice] Dingle regatta: last Saturday of June" in result
    first = result.splitlines()[0]
    assert "Dingle regatta: last Saturday of June" in first, "the statement comes before the question"
    # The earlier question comes with the turn that followed it.
    assert "  (after: [Mon 2026-03-02 10:01 CET · assistant] Which day suits you?)" in result


async def test_a_strong_full_text_hit_is_kept_when_the_vectors_disagree(
    database: Database, memory: Memory, openai_fake: FakeOpenAI
) -> None:
    alice = await add_user(database, "Alice")
    await chat(database, alice, ["Booked the Ballybunion ferry for the 14th", "Great."], START, "c")
    await memory.store.index_pending(alice.id)
    # From now on the query's vector points elsewhere than every stored one.
    openai_fake.embedder = lambda text, dim: topic_embedding("zebra quantum marmalade", dim)

    hits = await memory.search.search(alice.id, "Ballybunion ferry")

    assert [hit.text for hit in hits] == ["Booked the Ballybunion ferry for the 14th"]
    assert hits[0].similarity < memory.search.options.floor


async def test_identical_lines_take_one_slot(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    for day in range(4):
        await chat(
            database, alice, ["Dundalk traffic was awful again", "Sorry!"], START + timedelta(days=day), f"d{day}"
        )
    await chat(database, alice, ["Moving to Dundalk in May", "Exciting!"], START + timedelta(days=9), "move")
    await memory.store.index_pending(alice.id)

    hits = await memory.search.search(alice.id, "Dundalk", limit=3)

    assert sorted(hit.text for hit in hits) == ["Dundalk traffic was awful again", "Moving to Dundalk in May"]


async def test_full_text_stems_and_weighs_rare_words_over_common_ones(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    common = [f"today was a good day number {n}" for n in range(12)]
    _, ids = await chat(database, alice, [*common, "Galway races today, what a day", "Nice!"], START, "c")
    await memory.store.index_pending(alice.id)

    async with database.engine.connect() as conn:
        found = await fts.search(conn, alice.id, "racing in Galway day", 5, documents=len(ids))

    assert found[0].id == ids[-2], "'Galway' (and 'racing' stemmed to 'race') outweigh the common 'day'"
    assert found[0].all_terms and found[0].score == pytest.approx(1.0)


async def test_a_topic_never_mentioned_holds_little_of_the_question_in_small_talk(
    database: Database, memory: Memory
) -> None:
    alice = await add_user(database, "Alice")
    small_talk = ["hey! how's your week going", "good, you?"] * 3
    _, ids = await chat(database, alice, [*small_talk, "Ziggy chewed my charger", "Oh no!"], START, "c")
    await memory.store.index_pending(alice.id)

    async with database.engine.connect() as conn:
        # As in a history of 200 lines, three of them saying "going".
        skydiving = await fts.search(conn, alice.id, "Did I ever go skydiving?", 5, documents=200)
        ziggy = await fts.search(conn, alice.id, "What did Ziggy chew?", 5, documents=200)

    assert skydiving and skydiving[0].score < SearchOptions().text_match, "'going' is no strong keyword hit"
    assert ziggy[0].id == ids[-2] and ziggy[0].score >= SearchOptions().text_match, "a name is"


async def test_the_assistants_reply_comes_with_the_question_it_answered(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    await chat(database, alice, ["Which ferry goes to Inishmore?", "The Rossaveel ferry, 40 minutes."], START, "c")
    await memory.store.index_pending(alice.id)
    tool = SearchMemoryTool(memory.search)
    context = ToolContext(user=alice, conversation_id=0, now=START, timezone=PARIS)

    result = str(await tool.run({"query": "Rossaveel ferry"}, context))

    assert result.splitlines()[:2] == [
        "  (before: [Mon 2026-03-02 10:00 CET · Alice] Which ferry goes to Inishmore?)",
        "[Mon 2026-03-02 10:01 CET · discord · assistant] The Rossaveel ferry, 40 minutes.",
    ]


async def test_news_told_with_a_question_mark_ranks_above_the_later_asking(database: Database, memory: Memory) -> None:
    alice = await add_user(database, "Alice")
    told = "had the interview at Northwind this morning, I think it went ok?"
    await chat(database, alice, [told, "Fingers crossed!"], START, "told")
    await chat(database, alice, ["How did my Northwind interview go?", "Hm."], START + timedelta(days=5), "asked")
    await memory.store.index_pending(alice.id)

    hits = await memory.search.search(alice.id, "Northwind interview")

    assert hits[0].text == told, "the news keeps its full weight; the later asking counts half"
