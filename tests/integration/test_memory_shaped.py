"""Which memories shaped an answer: recorded from recall, shown under the answer in the web app and the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.clock import ManualClock
from core.db.database import Database
from core.db.models_memory import AnswerMemory
from core.llm import OpenAIModel
from core.memory.shaped import memories_behind
from core.memory.steps import RECALL_HEADING
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply, topic_embedding
from tests.web_helpers import ADA, BOB, WebKit, csrf_of

BOAT = "Ada keeps her boat moored in Brest harbour"
TEA = "Ada's favourite tea is lapsang souchong"
SHAPED = re.compile(
    r'<details class="shaped"><summary>Memories that shaped this answer \((\d+)\)</summary>(.*?)</details>', re.S
)


@pytest.fixture
async def kit(database: Database, model: OpenAIModel, openai_fake: FakeOpenAI) -> WebKit:
    openai_fake.embedder = topic_embedding
    clock = ManualClock(TEST_NOW)
    return WebKit(database, make_chat_service(database, model, clock=clock), model, clock, public_url="https://x.org")


async def ask(kit: WebKit, client, csrf: str, text: str) -> list[str]:  # noqa: ANN001
    """Ask through the chat API; the texts of the memories it says shaped the answer."""
    answer = await client.post("/api/v1/chat", json={"text": text}, headers={"x-csrf-token": csrf})
    assert answer.status_code == 200 and answer.json()["error"] is None, answer.text
    await kit.chat.tasks.wait_idle()
    return [m["text"] for m in answer.json()["recalled_memories"]]


async def test_the_memories_recall_put_into_an_answer_show_under_it_on_the_pages_and_in_the_api(
    kit: WebKit, openai_fake: FakeOpenAI
) -> None:
    openai_fake.queue(Reply("In Brest, by the harbour."), Reply("Hello!"))
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/memories")).text)
        for fact in (BOAT, TEA):
            assert (
                await client.post("/api/v1/memories", json={"text": fact}, headers={"x-csrf-token": csrf})
            ).is_success
        await kit.chat.tasks.wait_idle()
        assert await ask(kit, client, csrf, "Where is my boat moored?") == [BOAT]  # as it answers
        assert await ask(kit, client, csrf, "How many moons does Neptune have?") == []
        answers = [m for m in (await client.get("/api/v1/messages")).json()["messages"] if m["role"] == "assistant"]
        about_neptune, about_boat = answers
        boat_api = (await client.get(f"/api/v1/messages/{about_boat['id']}")).json()
        neptune_api = (await client.get(f"/api/v1/messages/{about_neptune['id']}")).json()
        timeline = (await client.get("/timeline")).text
        chat_page = (await client.get("/chat")).text

    request = [body for body in openai_fake.chat_requests() if body.get("stream")][0]
    notes = [m["content"] for m in request["messages"] if m["role"] == "system" and RECALL_HEADING in m["content"]]
    assert len(notes) == 1 and BOAT in notes[0] and TEA not in notes[0], "what the model saw"
    assert [m["text"] for m in boat_api["recalled_memories"]] == [BOAT]
    assert boat_api["recalled_memories"][0]["current"] is True
    assert neptune_api["recalled_memories"] == [], "nothing recalled for a question about nothing said"
    for page in (timeline, chat_page):
        shown = SHAPED.findall(page)
        assert len(shown) == 1, page
        count, items = shown[0]
        assert count == "1" and BOAT in items and TEA not in items
        assert "(noted 2026-11-24)" in items
    # Under the answer it shaped: the timeline lists newest first, the chat oldest first.
    order = [timeline.index(t) for t in ("In Brest, by the harbour.", "Memories that shaped", "Where is my boat")]
    assert order == sorted(order)
    order = [chat_page.index(t) for t in ("Where is my boat", "In Brest, by the", "Memories that shaped", "Neptune")]
    assert order == sorted(order)


async def test_another_person_never_sees_which_memories_shaped_an_answer(kit: WebKit, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("In Brest."))
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/memories")).text)
        await client.post("/api/v1/memories", json={"text": BOAT}, headers={"x-csrf-token": csrf})
        await kit.chat.tasks.wait_idle()
        await ask(kit, client, csrf, "Where is my boat moored?")
        answer = (await client.get("/api/v1/messages")).json()["messages"][0]
    bob = await kit.user_id(BOB)
    async with kit.signed_in(BOB) as client:
        refused = await client.get(f"/api/v1/messages/{answer['id']}")

    assert refused.status_code == 404
    assert await memories_behind(kit.db, bob, [answer["id"]]) == {}
    assert [m.text for m in (await memories_behind(kit.db, await kit.user_id(ADA), [answer["id"]]))[answer["id"]]] == [
        BOAT
    ]


async def test_a_forgotten_memory_leaves_the_answers_it_shaped(kit: WebKit, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(Reply("In Brest."))
    async with kit.signed_in(ADA) as client:
        csrf = csrf_of((await client.get("/memories")).text)
        memory = (await client.post("/api/v1/memories", json={"text": BOAT}, headers={"x-csrf-token": csrf})).json()
        await kit.chat.tasks.wait_idle()
        await ask(kit, client, csrf, "Where is my boat moored?")
        before = (await client.get("/timeline")).text
        deleted = await client.delete(f"/api/v1/memories/{memory['id']}", headers={"x-csrf-token": csrf})
        after = (await client.get("/timeline")).text
    async with kit.db.engine.connect() as conn:
        left = await conn.scalar(select(func.count()).select_from(AnswerMemory))

    assert BOAT in before and deleted.is_success
    assert "Memories that shaped this answer" not in after and BOAT not in after
    assert left == 0, "the record goes with the memory"
