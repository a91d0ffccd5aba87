"""What recall adds to a turn's first token, with a slow embedding endpoint.

    .venv/bin/python -m bench.memory_turn [--turns 40] [--embedding-delay 0.15]

A real ChatService on a SQLite file answers with the in-process
``InstantModel`` of bench.turn_overhead, so a turn's time is the core's own plus
whatever its steps wait for.  Memory is plugged in as the container does
(the memory feature, ``Memory``) against the fake OpenAI server, whose embeddings
endpoint sleeps ``--embedding-delay`` seconds per request.  The user has 40
memories and an indexed history; background work (indexing) is awaited between
turns and not timed.  Printed: time to the first text of the answer, p50/p95,
without memory, with recall as the bot runs it by default (``RECALL_WAIT=0``:
recall from the previous message's vector and full-text search on the new
words, no network call before the first token), and with recall waiting up to
0.5 s for the new message's embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from contextlib import aclosing
from pathlib import Path

from aiohttp import web

from bench.turn_overhead import InstantModel
from bench.wiring import BenchCore, build_core
from core.clock import system_clock
from core.context import ContextBuilder
from core.db.database import Database
from core.llm import ModelNames, OpenAIModel
from core.memory.wiring import Memory, MemorySettings
from core.summaries import Summaries
from core.tokens import TokenCounter
from core.tools.registry import ToolRegistry
from core.types import ConversationRef, IncomingMessage, PlatformIdentity, TextDelta
from tests.fakes.openai_server import FakeOpenAI, topic_embedding

SAM = PlatformIdentity("bench", "w", "sam", display_name="Sam")
TOPICS = "sister Lisbon cello vegetarian dentist Kyoto marathon tomatoes jazz kayak".split()


class SlowEmbeddings(FakeOpenAI):
    """The fake server, with every embeddings request taking ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.embedder = topic_embedding

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.delay)
        return await super()._embeddings(request)


async def first_text_after(core: BenchCore, text: str, place: ConversationRef) -> float:
    incoming = IncomingMessage(conversation=place, author=SAM, text=text, received_at=core.clock())
    started = time.perf_counter()
    first = None
    async with aclosing(core.chat.turn(incoming)) as events:
        async for event in events:
            if first is None and isinstance(event, TextDelta):
                first = time.perf_counter() - started
    await core.tasks.wait_idle()
    assert first is not None
    return first


async def run(
    label: str, fake: FakeOpenAI, turns: int, settings: MemorySettings | None, *, summaries: bool = False
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'turn.db'}")
        await db.migrate()
        embeddings = OpenAIModel(api_key="sk-test", base_url=fake.base_url, models=ModelNames(), max_retries=0)
        model = InstantModel()
        context = ContextBuilder(TokenCounter("gpt-4o-mini"), token_budget=16_000)
        core = build_core(db, model, context, tools=ToolRegistry.of([]), allowed=("bench:*",), clock=system_clock)
        place = ConversationRef("bench", "w", "dm-sam")
        if summaries:
            core.install(Summaries(model, context))  # type: ignore[arg-type]
        if settings is not None:
            memory = Memory(embeddings, settings, context.counter)
            core.install(memory)
            assert memory.services is not None
            await first_text_after(core, "hello", place)  # creates Sam
            user = await core.people.admit(SAM)
            assert user.user is not None
            for n in range(40):
                await memory.services.store.remember(user.user.id, f"The user mentioned {TOPICS[n % 10]} number {n}.")
        samples = []
        for n in range(turns):
            samples.append(await first_text_after(core, f"Tell me about {TOPICS[n % 10]}, take {n}", place))
        samples.sort()
        p50 = statistics.median(samples) * 1000
        p95 = samples[int(0.95 * (len(samples) - 1))] * 1000
        print(f"{label:>40} | {p50:>7.1f} | {p95:>7.1f}")
        await core.chat.close()
        await embeddings.close()
        await db.dispose()


async def main_async(turns: int, delay: float) -> None:
    with SlowEmbeddings(delay) as fake:
        print(f"embedding endpoint: {delay * 1000:.0f} ms a request; {turns} turns each")
        print(f"{'':>40} | {'p50 ms':>7} | {'p95 ms':>7}   (time to the first text)")
        await run("no memory", fake, turns, None)
        await run("recall, RECALL_WAIT=0 (default)", fake, turns, MemorySettings(extraction=False, recall_wait=0))
        default = MemorySettings(extraction=False, recall_wait=0)
        await run("summaries + recall (the bot's default)", fake, turns, default, summaries=True)
        await run("recall, RECALL_WAIT=0.5", fake, turns, MemorySettings(extraction=False, recall_wait=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--embedding-delay", type=float, default=0.15)
    args = parser.parse_args()
    asyncio.run(main_async(args.turns, args.embedding_delay))


if __name__ == "__main__":
    main()
