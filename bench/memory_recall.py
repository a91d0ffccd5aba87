"""Recall of long-term memory search on a synthetic multi-session history.

    .venv/bin/python -m bench.memory_recall [--facts 60] [--filler 2000] [--seed 7]

One user talks over many sessions (Discord and Slack, months apart).  Each
fact (people, places, dates, preferences) is said exactly once, among many
unrelated turns, some of which reuse the fact's words in other contexts.  Then
for each fact a question whose answer lies in that one turn, and as many
off-topic questions about things never discussed.  The search runs as the
``search_memory`` tool runs it: the real openai client, against the fake
server's embeddings (:func:`tests.fakes.openai_server.topic_embedding`, a
hashed bag of words that carries meaning), on a SQLite file.

Printed: recall@5 and recall@10 of the evidence turn, and the share of
off-topic questions that returned nothing, with and without full-text fusion
and the similarity floor.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Conversation, Message, User
from core.llm import ModelNames, OpenAIModel
from core.memory.embedder import Embedder
from core.memory.search import MemorySearch, SearchOptions
from core.memory.store import MemoryStore
from tests.fakes.openai_server import FakeOpenAI, topic_embedding

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

# (statement said once, question asked later)
FACT_TEMPLATES = [
    ("My sister {name} lives in {city} now", "Where does my sister live?"),
    ("My dentist appointment is on {day} {month}", "When is my dentist appointment?"),
    ("I'm allergic to {food}, please keep that in mind", "What am I allergic to?"),
    ("Our cat is called {name}", "What is the name of our cat?"),
    ("My favourite band is {band}", "Which band do I like most?"),
    ("My brother {name} works as a {job}", "What does my brother do for work?"),
    ("The wifi password at the cabin is {word}{day}", "What's the cabin wifi password?"),
    ("We are flying to {city} on {day} {month}", "When is our flight to {city}?"),
    ("My daughter's school play is about {topic}", "What is my daughter's school play about?"),
    ("I parked the car on level {day} of the {city} garage", "Where did I park the car?"),
]
NAMES = (
    "Ana Ben Chloe Dmitri Elif Farah Goran Hana Ivo Jun Kofi Lena Mateo Nia Omar Priya Quinn Rosa Sven Tomas".split()
)
CITIES = "Lisbon Porto Oslo Kyoto Lima Quito Accra Hanoi Tunis Riga Sofia Cork Bergen Split Graz Malmo".split()
FOODS = "peanuts shellfish sesame kiwi gluten lactose mustard celery".split()
BANDS = "Radiohead Portishead Kraftwerk Bjork Massive-Attack Air Moderat Caribou".split()
JOBS = "nurse carpenter pilot translator surveyor baker architect".split()
TOPICS = "dinosaurs volcanoes pirates planets robots knights".split()
WORDS = "maple falcon copper harbor lantern cedar".split()
MONTHS = "January February March April May June July August September October November".split()
FILLER = [
    "Can you summarise this article about {topic} for me?",
    "What's a good recipe with {food} free ingredients?",
    "Remind me how to write a for loop in Python",
    "The weather in {city} looks grim today",
    "I watched a documentary about {topic} last night",
    "My colleague {name} recommended a book on {topic}",
    "How long should I boil an egg?",
    "Translate 'good morning' into Portuguese",
    "What's the difference between a latte and a flat white?",
    "I need a name for a project about {topic}",
    "Explain compound interest simply",
    "The train to {city} was late again",
    "Any tips for sleeping better?",
    "Draft a polite email declining a meeting",
    "My neighbour {name} is repainting the fence",
]
OFF_TOPIC = [
    "What is my blood type?",
    "Which football team do I support?",
    "What is my grandmother's maiden name?",
    "How tall is my son?",
    "What car insurance company do I use?",
    "What's my boss's favourite golf course?",
    "When did I last visit the optician?",
    "Which gym am I a member of?",
    "What colour is my kayak?",
    "What is the licence plate of my motorbike?",
]


def fill(template: str, rng: random.Random, slots: dict[str, str] | None = None) -> str:
    values = {
        "name": rng.choice(NAMES),
        "city": rng.choice(CITIES),
        "food": rng.choice(FOODS),
        "band": rng.choice(BANDS),
        "job": rng.choice(JOBS),
        "topic": rng.choice(TOPICS),
        "word": rng.choice(WORDS),
        "day": str(rng.randint(1, 28)),
        "month": rng.choice(MONTHS),
    }
    values.update(slots or {})
    return template.format(**values)


async def build(db: Database, facts: int, filler: int, rng: random.Random) -> tuple[int, list[tuple[int, str]]]:
    """Store the history; returns the user id and (evidence message id, question) pairs."""
    async with db.engine.begin() as conn:
        user_id = await conn.scalar(
            insert(User).returning(User.id), {"display_name": "Sam", "settings": {}, "created_at": START}
        )
    turns: list[tuple[str, str | None]] = [(fill(rng.choice(FILLER), rng), None) for _ in range(filler)]
    for n in range(facts):
        statement, question = FACT_TEMPLATES[n % len(FACT_TEMPLATES)]
        slots = {"city": rng.choice(CITIES)}
        turns.insert(rng.randrange(len(turns) + 1), (fill(statement, rng, slots), fill(question, rng, slots)))
    pairs: list[tuple[int, str]] = []
    moment = START
    conversation_id = 0
    async with db.engine.begin() as conn:
        for i, (said, question) in enumerate(turns):
            if i % 40 == 0:  # a new session every 40 turns, a few days later, alternating platforms
                moment += timedelta(days=rng.randint(1, 6))
                conversation_id = await conn.scalar(
                    insert(Conversation).returning(Conversation.id),
                    {
                        "user_id": user_id,
                        "platform": "discord" if (i // 40) % 2 else "slack",
                        "workspace": "w",
                        "channel": f"c{i}",
                        "thread": "",
                        "created_at": moment,
                        "revision": 0,
                    },
                )
            moment += timedelta(minutes=2)
            ids = []
            for role, content in (("user", said), ("assistant", "Okay, noted.")):
                ids.append(
                    await conn.scalar(
                        insert(Message).returning(Message.id),
                        {
                            "conversation_id": conversation_id,
                            "author_user_id": user_id if role == "user" else None,
                            "role": role,
                            "content": content,
                            "attachments": [],
                            "created_at": moment,
                            "platform_parts": [],
                            "status": "complete",
                            "status_reason": "",
                            "token_count": 0,
                            "model": "",
                        },
                    )
                )
            if question is not None:
                pairs.append((int(ids[0]), question))
    return int(user_id), pairs


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as folder:
        fake.embedder = topic_embedding
        model = OpenAIModel(api_key="sk-test", base_url=fake.base_url, models=ModelNames(), max_retries=0)
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'recall.db'}")
        await db.migrate()
        user_id, pairs = await build(db, args.facts, args.filler, rng)
        store = MemoryStore(db, Embedder(model, dimensions=256, batch_size=256), clock=ManualClock(START))
        while await store.index_pending(user_id, limit=2048):
            pass
        search = MemorySearch(store)
        print(f"{len(pairs)} facts among {args.filler} unrelated turns, {len(OFF_TOPIC)} off-topic questions")
        print(f"{'fusion':>7} | {'floor':>6} | {'recall@5':>8} | {'recall@10':>9} | {'off-topic empty':>15}")
        base = SearchOptions(floor=args.floor, text_floor=args.text_floor)
        for fusion in (True, False):
            for floor in (True, False):
                options = SearchOptions(
                    floor=base.floor if floor else -1.0,
                    text_floor=base.text_floor if floor else -1.0,
                    fusion=fusion,
                )
                at5 = at10 = 0
                for evidence, question in pairs:
                    hits = [h.id for h in await search.search(user_id, question, limit=10, options=options)]
                    at5 += evidence in hits[:5]
                    at10 += evidence in hits
                empty = 0
                for question in OFF_TOPIC:
                    empty += not await search.search(user_id, question, limit=10, options=options)
                print(
                    f"{'on' if fusion else 'off':>7} | {'on' if floor else 'off':>6} | {at5 / len(pairs):>8.2f} | "
                    f"{at10 / len(pairs):>9.2f} | {empty / len(OFF_TOPIC):>15.2f}"
                )
        await model.close()
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=60)
    parser.add_argument("--filler", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--floor", type=float, default=SearchOptions().floor, help="similarity floor")
    parser.add_argument("--text-floor", type=float, default=SearchOptions().text_floor, help="floor of full-text hits")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
