"""Long-term memory plugged into a real ChatService: turns remember, recall and search, on both databases."""

from __future__ import annotations

import json

from core.commands import CommandRequest, CommandSet
from core.db.database import Database
from core.db.repositories import UserRepository
from core.events import EventBus, PersonForgotten
from core.llm import OpenAIModel
from core.memory.steps import RECALL_HEADING
from core.memory.wiring import MemorySettings
from core.types import ConversationRef, PlatformIdentity
from tests.chat_helpers import ALICE, PLACE, say
from tests.conftest import make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls, topic_embedding
from tests.feature_helpers import add_memory

FACT = "Ana, the user's sister, lives in Lisbon."
BOB = PlatformIdentity("test", "w1", "bob", display_name="Bob")
BOBS_DM = ConversationRef("test", "w1", "dm-bob")
# Alice's other conversation: what she said in the first one is not in its window.
ALICES_THREAD = ConversationRef("test", "w1", "alice-elsewhere")


def streamed(openai_fake: FakeOpenAI) -> list[dict]:
    """The answer requests (streamed), without the extraction requests."""
    return [body for body in openai_fake.chat_requests() if body.get("stream")]


async def test_a_fact_told_in_one_turn_is_recalled_and_searchable_in_later_turns(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    openai_fake.embedder = topic_embedding
    chat = make_chat_service(database, model)
    memory = add_memory(chat, model, MemorySettings(embedding_dimensions=256))
    await chat.tasks.wait_idle()
    openai_fake.queue(Reply("Noted!"), Reply(json.dumps({"memories": [{"text": FACT, "replaces": None}]})))

    await say(chat, "Remember that my sister Ana lives in Lisbon")
    await chat.tasks.wait_idle()
    openai_fake.queue(Reply("Pastéis de nata!"), Reply(json.dumps({"memories": []})))
    await say(chat, "What should I bring my sister Ana?")
    await chat.tasks.wait_idle()
    openai_fake.queue(
        ToolCalls([("search_memory", {"query": "sister Lisbon"})]),
        Reply("You told me she lives in Lisbon."),
        Reply(json.dumps({"memories": []})),
    )
    searched = await say(chat, "Where did I say my sister lives?", place=ALICES_THREAD)
    await chat.tasks.wait_idle()
    openai_fake.queue(Reply("I know nothing about that."), Reply(json.dumps({"memories": []})))
    await say(chat, "Where does my sister live?", author=BOB, place=BOBS_DM)
    await chat.tasks.wait_idle()

    answers = streamed(openai_fake)
    notes = [m["content"] for m in answers[1]["messages"] if m["role"] == "system" and RECALL_HEADING in m["content"]]
    tool_result = next(m["content"] for m in answers[3]["messages"] if m["role"] == "tool")
    bobs_notes = [m["content"] for m in answers[4]["messages"] if RECALL_HEADING in str(m["content"])]
    alice = await UserRepository(database).find(ALICE)
    assert alice is not None
    assert [m.text for m in await memory.store.list_memories(alice.id)] == [FACT]
    assert len(notes) == 1 and f"- {FACT} (noted 2026-11-24)" in notes[0]
    assert "Searching memory…" in searched.statuses
    assert "[Tue 2026-11-24 13:00 CET · test · Alice] Remember that my sister Ana lives in Lisbon" in tool_result
    assert bobs_notes == []


async def test_memory_and_forget_me_commands_end_to_end(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    openai_fake.embedder = topic_embedding
    chat = make_chat_service(database, model)
    commands, events, forgotten = CommandSet(chat, model), EventBus(), []
    events.subscribe(PersonForgotten, lambda event: forgotten.append(event.user_id))
    settings = MemorySettings(embedding_dimensions=256)
    add_memory(chat, model, settings, commands=commands, events=events, default_timezone="Europe/Paris")
    openai_fake.queue(Reply("Noted!"), Reply(json.dumps({"memories": [{"text": FACT, "replaces": None}]})))
    await say(chat, "Remember that my sister Ana lives in Lisbon")
    await chat.tasks.wait_idle()
    here = CommandRequest(ALICE, PLACE)

    listing = await commands.run("memory", here)
    found = await commands.run("memory", CommandRequest(ALICE, PLACE, {"words": "Lisbon"}))
    asked = await commands.run("forget-me", here)
    still = await commands.run("memory", here)
    alice = await UserRepository(database).find(ALICE)
    deleted = await commands.run("forget-me", CommandRequest(ALICE, PLACE, {"confirm": "DELETE"}))
    openai_fake.queue(Reply("Hello! Nice to meet you."), Reply(json.dumps({"memories": []})))
    again = await say(chat, "Hello again, where does my sister live?")
    await chat.tasks.wait_idle()
    after = await commands.run("memory", here)

    assert listing.private and listing.text.splitlines()[1] == f"1. {FACT} (2026-11-24)"
    assert found.text.splitlines()[1:] == [f"1. {FACT} (2026-11-24)"]
    assert asked.text.startswith("This deletes everything stored about you") and "confirm:DELETE" in asked.text
    assert still.text.splitlines()[1] == f"1. {FACT} (2026-11-24)"
    assert deleted.text.startswith("Done: everything I stored about you is deleted.")
    assert alice is not None and forgotten == [alice.id]  # subscribers (caches of other features) hear of it
    assert again.error is None and again.text == "Hello! Nice to meet you."
    last_request = json.dumps(streamed(openai_fake)[-1]["messages"])
    assert "Lisbon" not in last_request.replace("where does my sister live", "")
    assert RECALL_HEADING not in last_request
    assert after.text == "I don't remember anything about you yet."
