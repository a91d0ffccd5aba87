"""From a Discord DM to the model request, through the real path, as the context grows.

    .venv/bin/python -m bench.dm_to_request [--sizes 30,240,1000] [--turns 15] [--database sqlite|postgresql]

discord.py runs against the loopback Discord fake, the real core on a fresh
database, the real openai client against the OpenAI fake.  For each size the
DM conversation first holds that many earlier messages (about 65 tokens each:
240 fill the default 16,000-token context budget, 1,000 overflow it), stored
with the bot stopped, so the bot starts with nothing cached as after a restart.
Then ``--turns`` DMs are sent one after another; for each, the time from the
user's DM (the fake dispatching MESSAGE_CREATE) to the fake OpenAI server
receiving the chat request (both ``perf_counter`` in this process).  The first
DM after the start reads the whole window from the database: it is shown apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bench.stream import Options, bench_database, build_chat, poll
from bench.wiring import discord_service
from core.db.models import Conversation, Message
from tests.fakes.openai_server import FakeOpenAI, Reply

WORDS = " ".join(f"word{n}" for n in range(40))  # about 65 tokens with the time stamp and framing


async def fill(db, conversation_id: int, author: int, count: int) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC) - timedelta(days=1)
    async with db.engine.begin() as conn:
        await conn.execute(
            insert(Message),
            [
                {
                    "conversation_id": conversation_id,
                    "author_user_id": author if n % 2 == 0 else None,
                    "role": "user" if n % 2 == 0 else "assistant",
                    "content": f"earlier message {n}: {WORDS}",
                    "attachments": [],
                    "platform_parts": [],
                    "created_at": start + timedelta(seconds=n),
                    "status": "complete",
                    "status_reason": "",
                    "token_count": 60,
                    "model": "",
                }
                for n in range(count)
            ],
        )


async def measure(size: int, turns: int, database: str) -> tuple[int, float, list[float]]:
    """Messages in the last request, the first DM's time and the later DMs' times (ms)."""
    import discord.gateway
    import discord.http

    from adapters.discord import DiscordService
    from tests.fakes.discord_server import FakeDiscord

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    options = Options(database=database)
    with FakeOpenAI() as openai_fake, FakeDiscord() as fake, tempfile.TemporaryDirectory() as tmp:
        openai_fake.default = lambda _request: Reply("Noted.")
        async with bench_database(options, Path(tmp)) as db:

            async def start() -> tuple[DiscordService, object]:
                core, model = await build_chat(openai_fake, db, ("discord:*",), options)
                service = discord_service(core, fake)
                await service.start()
                return service, model

            async def dm(user: str, text: str) -> float:
                before = len(openai_fake.chat_requests())
                seen = len(fake.log)
                sent = time.perf_counter()
                await asyncio.to_thread(fake.user_sends_dm, user, text)
                # The fake stamps the request's arrival itself: the polling's pace does not count.
                await poll(lambda: len(openai_fake.chat_requests()) > before, 30)
                arrived = [r for r in openai_fake.requests if r.path == "/v1/chat/completions"][before].t
                channel = fake.dm_channel_id(user)
                await poll(  # answered: the next DM starts from an idle bot
                    lambda: any(
                        e.channel_id == channel and e.content == "Noted." and e.status < 300 for e in fake.log[seen:]
                    ),
                    30,
                )
                return (arrived - sent) * 1000

            try:
                service, model = await start()
                user = fake.add_user(name="alice")["id"]
                await dm(user, "hello")
                await service.stop()
                await model.close()  # type: ignore[attr-defined]
                async with db.engine.connect() as conn:
                    conversation_id, author = (await conn.execute(select(Conversation.id, Conversation.user_id))).one()
                await fill(db, conversation_id, author, size)
                service, model = await start()
                first = await dm(user, "question 0")
                later = [await dm(user, f"question {n}") for n in range(1, turns)]
                messages = len(openai_fake.chat_requests()[-1]["messages"])
                await service.stop()
                await model.close()  # type: ignore[attr-defined]
                return messages, first, later
            finally:
                discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


async def main_async(sizes: list[int], turns: int, database: str) -> None:
    print(f"{'history':>8} | {'in request':>10} | {'first DM ms':>11} | {'p50 ms':>7} | {'p95 ms':>7} | {'max ms':>7}")
    for size in sizes:
        messages, first, later = await measure(size, turns, database)
        ordered = sorted(later)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"{size:>8} | {messages:>10} | {first:>11.1f} | {statistics.median(later):>7.1f} | {p95:>7.1f} | "
            f"{max(later):>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,240,1000", help="earlier messages in the conversation")
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    asyncio.run(main_async([int(s) for s in args.sizes.split(",")], args.turns, args.database))


if __name__ == "__main__":
    main()
