"""Streaming benchmark: how fast and how smoothly answers appear on a platform.

The real adapter (discord.py / slack-bolt) runs against the loopback fake of its
platform, the real core against the fake OpenAI server, on an embedded SQLite
database.  The model streams at a fixed rate (300 ms to the first token, then
40 words a second).  For 1 and 20 conversations at once it measures, per
conversation, from the platform fake's own arrival times:

- DM → request: the user's DM leaves the platform fake → the model request reaches the OpenAI fake;
- DM → first words: the user's DM → the platform receives the first call showing answer text;
- first text: model's first token → the platform receives the first call showing answer text;
- updates/s: visible updates of the answer (edits, and posts of further parts) from the first
  text to the final text, divided by that time;
- 429s: rate-limited calls the platform refused;
- final text: model's last token → the DM shows the complete answer: its bot messages, joined,
  are exactly the model's text, with no streaming marker left anywhere;
- exact: the DM ends up showing exactly the model's text (nothing stale, nothing twice).

What a DM shows is replayed from the fake's log (posts, edits, deletions, stream calls).
``--strict`` runs the fakes stricter than documented (Slack: 5 chat.update at once then
50 a minute, 3 stream starts/stops at once; Discord: 3 edits per 5 s per channel and a
global 30 a second), which the bot does not know and must learn from the 429s.

Run: ``python -m bench.stream [--platforms discord,slack,slack-native] [--concurrency 1,20,100]
[--words 150] [--strict]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url
from sqlalchemy import text as sql

from bench.wiring import BenchCore, build_core, discord_service, slack_service
from core.context import ContextBuilder
from core.db.database import Database
from core.llm import ModelNames, OpenAIModel
from core.tokens import TokenCounter
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
from core.tools.registry import ToolRegistry
from tests.fakes.openai_server import FakeOpenAI, Reply

MARKER = "▌"
POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class Options:
    """How a run is set up (the command line's options)."""

    words: int = 150
    strict: bool = False  # fakes stricter than the documented limits
    database: str = "sqlite"  # or "postgresql": a temporary database on CAPTAINSLOG_BENCH_POSTGRES_URL
    checkpoint: float = 1.0  # ChatService's checkpoint interval (seconds between saves of a growing answer)


@dataclass
class Update:
    t: float
    text: str


@dataclass
class Conversation:
    answer: str
    updates: list[Update] = field(default_factory=list)
    first_token: float = 0.0
    last_token: float = 0.0
    sent: float = 0.0  # the user's DM left the platform fake
    request: float = 0.0  # the model request reached the OpenAI fake


@dataclass
class Result:
    platform: str
    concurrency: int
    first_text_ms: list[float]
    final_text_ms: list[float]
    updates_per_s: list[float]
    rate_limited: int
    exact: int
    stale: int = 0  # DMs that end with a marker or a repeated fragment
    request_ms: list[float] = field(default_factory=list)  # DM -> model request
    first_words_ms: list[float] = field(default_factory=list)  # DM -> the first answer text on the platform


def visible_over_time(calls: list[tuple[float, str, str, str]]) -> list[Update]:
    """Replay ``(t, action, message id, text)`` calls into what the DM shows after each.

    Actions: ``post``, ``edit``, ``delete``, ``start`` (a native stream with its first
    text), ``append`` (more text streamed into a message).  The DM's bot messages are
    joined in order of their ids.
    """
    shown: dict[str, str] = {}
    order: list[str] = []
    updates = []
    for t, action, message_id, text in calls:
        if action in ("post", "start"):
            if message_id not in shown:
                order.append(message_id)
            shown[message_id] = text
        elif action == "edit" and message_id in shown:
            shown[message_id] = text
        elif action == "append" and message_id in shown:
            shown[message_id] += text
        elif action == "delete" and message_id in shown:
            del shown[message_id]
            order.remove(message_id)
        else:
            continue
        updates.append(Update(t, "".join(shown[m] for m in order)))
    return updates


async def poll(done: Callable[[], bool], timeout: float) -> bool:
    """Wait for ``done()`` without stealing much time from the bot under test; False when it never came.

    Answers that never settle are counted as stale, not treated as a crash of the benchmark.
    """
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)
    return True


def answer_text(n: int, words: int) -> str:
    filler = ("the quick brown fox jumps over the lazy dog and keeps on running " * 40).split()
    return f"Answer {n}: " + " ".join(filler[:words])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@asynccontextmanager
async def bench_database(options: Options, data_dir: Path) -> AsyncIterator[Database]:
    """A fresh migrated database: a SQLite file, or a temporary PostgreSQL database dropped afterwards."""
    if options.database == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{data_dir / 'bench.db'}")
        await db.migrate()
        try:
            yield db
        finally:
            await db.dispose()
        return
    admin = Database(POSTGRES_ADMIN_URL)
    name = f"captainslog_bench_{uuid.uuid4().hex[:10]}"
    try:
        async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(sql(f'CREATE DATABASE "{name}"'))
        db = Database(make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
        try:
            await db.migrate()
            yield db
        finally:
            await db.dispose()
            async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                await conn.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def build_chat(
    openai_fake: FakeOpenAI, db: Database, allowed: tuple[str, ...], options: Options
) -> tuple[BenchCore, OpenAIModel]:
    """The core against the OpenAI fake, with the built-in tools; its model, to close at the end."""
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), max_retries=0)
    counter = TokenCounter()
    core = build_core(
        db,
        model,
        ContextBuilder(counter),
        tools=ToolRegistry.of(builtin_tools(Calculator())),
        allowed=allowed,
        checkpoint_interval=options.checkpoint,
    )
    # A running bot loaded its tokenizer long before; the DMs are sent once it is (0.3-1.5 s in a thread).
    await counter.ready()
    return core, model


async def send_dms(send: Callable[[str, str], object], users: list[str]) -> dict[str, float]:
    """Every user DMs "question N" at once (from threads, as the platform would); when each left, by text."""
    sent: dict[str, float] = {}

    async def one(n: int, user: str) -> None:
        sent[f"question {n}"] = time.perf_counter()
        await asyncio.to_thread(send, user, f"question {n}")

    await asyncio.gather(*(one(n, u) for n, u in enumerate(users)))
    return sent


def request_times(openai_fake: FakeOpenAI) -> dict[str, float]:
    """When the first model request of each question reached the OpenAI fake."""
    arrived: dict[str, float] = {}
    for record in list(openai_fake.requests):
        if record.path == "/v1/chat/completions" and record.json:
            question = str(record.json["messages"][-1]["content"]).split("]\n")[-1]
            arrived.setdefault(question, record.t)
    return arrived


def summarise(platform: str, concurrency: int, conversations: list[Conversation], rate_limited: int) -> Result:
    first, final, rates = [], [], []
    to_request, to_words = [], []
    exact = stale = 0
    for conv in conversations:
        if conv.sent and conv.request:
            to_request.append((conv.request - conv.sent) * 1000)
        texts = [u for u in conv.updates if u.text.replace(MARKER, "").strip()]
        if not texts:
            continue
        first_t = texts[0].t
        if conv.sent:
            to_words.append((first_t - conv.sent) * 1000)
        final_update = next((u for u in conv.updates if u.text == conv.answer), None)
        first.append((first_t - conv.first_token) * 1000)
        if conv.updates[-1].text == conv.answer:
            exact += 1
        else:
            stale += 1
        if final_update is not None:
            final.append((final_update.t - conv.last_token) * 1000)
            shown = [u for u in texts if first_t <= u.t <= final_update.t]
            span = final_update.t - first_t
            rates.append(len(shown) / span if span > 0 else float("nan"))
    return Result(platform, concurrency, first, final, rates, rate_limited, exact, stale, to_request, to_words)


# -- Discord ----------------------------------------------------------------------------------


DISCORD_ACTIONS = {"messages.create": "post", "messages.edit": "edit", "messages.delete": "delete"}


async def run_discord(concurrency: int, options: Options) -> Result:
    import discord.gateway
    import discord.http

    from tests.fakes.discord_server import DiscordLimits, FakeDiscord

    limits = DiscordLimits(channel_edit=(3, 5.0), global_per_second=30) if options.strict else None
    words = options.words
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    with FakeOpenAI() as openai_fake, FakeDiscord(limits=limits) as fake, tempfile.TemporaryDirectory() as tmp:
        async with bench_database(options, Path(tmp)) as db:
            core, model = await build_chat(openai_fake, db, ("discord:*",), options)
            service = discord_service(core, fake)
            await service.start()
            try:
                users = [fake.add_user(name=f"user{n}")["id"] for n in range(concurrency)]
                answers = {f"question {n}": answer_text(n, words) for n in range(concurrency)}
                openai_fake.default = lambda request: Reply.at_rate(
                    answers[str(request["messages"][-1]["content"]).split("]\n")[-1]], 0.3, 40.0
                )
                fake.clear_records()
                sent = await send_dms(fake.user_sends_dm, users)
                channels = [fake.dm_channel_id(u) for u in users]

                def dm_updates(channel: str) -> list[Update]:
                    return visible_over_time(
                        [
                            (e.t, DISCORD_ACTIONS[e.route], e.message_id or "", e.content or "")
                            for e in list(fake.log)
                            if e.channel_id == channel and e.route in DISCORD_ACTIONS and e.status < 300
                        ]
                    )

                def all_final() -> bool:
                    for channel, answer in zip(channels, answers.values(), strict=True):
                        updates = dm_updates(channel)
                        if not updates or updates[-1].text != answer:
                            return False
                    return True

                await poll(all_final, 90)
                conversations = []
                arrived = request_times(openai_fake)
                for (question, answer), channel in zip(answers.items(), channels, strict=True):
                    conv = Conversation(answer, sent=sent[question], request=arrived.get(question, 0.0))
                    conv.updates = dm_updates(channel)
                    record = next(r for r in openai_fake.stream_log if r.text == answer)
                    conv.first_token, conv.last_token = record.first_content_t, record.last_content_t
                    conversations.append(conv)
                return summarise("discord", concurrency, conversations, len(fake.rate_limited))
            finally:
                await service.stop()
                await model.close()
                discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


# -- Slack ---------------------------------------------------------------------------------


SLACK_ACTIONS = {
    "chat.postMessage": "post",
    "chat.update": "edit",
    "chat.delete": "delete",
    "chat.startStream": "start",
    "chat.appendStream": "append",
    "chat.stopStream": "append",
}


async def run_slack(concurrency: int, options: Options, *, native: bool = False) -> Result:
    from tests.fakes.slack_server import FakeSlack, SlackLimits

    limits = SlackLimits.strict() if options.strict else None
    words = options.words
    with FakeOpenAI() as openai_fake, FakeSlack(limits=limits) as fake, tempfile.TemporaryDirectory() as tmp:
        async with bench_database(options, Path(tmp)) as db:
            core, model = await build_chat(openai_fake, db, ("slack:*",), options)
            service = slack_service(core, fake, native=native)
            await service.start()
            try:
                users = [f"U{n:04d}" for n in range(concurrency)]
                answers = {f"question {n}": answer_text(n, words) for n in range(concurrency)}
                openai_fake.default = lambda request: Reply.at_rate(
                    answers[str(request["messages"][-1]["content"]).split("]\n")[-1]], 0.3, 40.0
                )
                sent = await send_dms(fake.user_sends_dm, users)
                channels = [fake.dm_channel(u) for u in users]

                def dm_updates(channel: str) -> list[Update]:
                    # A native stream shows what was appended so far; a posted or edited message its text.
                    return visible_over_time(
                        [
                            (e.t, SLACK_ACTIONS[e.method], e.ts or "", e.text or "")
                            for e in list(fake.log)
                            if e.channel == channel and e.method in SLACK_ACTIONS and e.ok
                        ]
                    )

                def all_final() -> bool:
                    for channel, answer in zip(channels, answers.values(), strict=True):
                        updates = dm_updates(channel)
                        streaming = any(m.streaming for m in fake.channel_messages(channel))
                        if streaming or not updates or updates[-1].text != answer:
                            return False
                    return True

                await poll(all_final, 120)
                conversations = []
                arrived = request_times(openai_fake)
                for (question, answer), channel in zip(answers.items(), channels, strict=True):
                    conv = Conversation(answer, sent=sent[question], request=arrived.get(question, 0.0))
                    conv.updates = dm_updates(channel)
                    record = next(r for r in openai_fake.stream_log if r.text == answer)
                    conv.first_token, conv.last_token = record.first_content_t, record.last_content_t
                    conversations.append(conv)
                name = "slack (native)" if native else "slack"
                return summarise(name, concurrency, conversations, len(fake.rate_limited))
            finally:
                await service.stop()
                await model.close()


async def run_slack_native(concurrency: int, options: Options) -> Result:
    return await run_slack(concurrency, options, native=True)


RUNNERS: dict[str, Callable[..., Awaitable[Result]]] = {
    "discord": run_discord,
    "slack": run_slack,
    "slack-native": run_slack_native,
}


def print_table(results: list[Result], options: Options) -> None:
    limits = "platforms stricter than documented" if options.strict else "documented limits"
    table = Table(
        title=f"Streaming: model 300 ms to first token, 40 words/s, {options.words}-word answers, {limits}, "
        f"{options.database}, checkpoint every {options.checkpoint:g} s"
    )
    for column in (
        "platform",
        "conversations",
        "DM → request p50 / p95 (ms)",
        "DM → first words p50 / p95 (ms)",
        "first text p50 / p95 (ms)",
        "updates/s p50 / min",
        "final text p50 / p95 (ms)",
        "429s",
        "complete & exact",
        "stale",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.platform,
            str(r.concurrency),
            f"{statistics.median(r.request_ms):.0f} / {percentile(r.request_ms, 95):.0f}" if r.request_ms else "-",
            f"{statistics.median(r.first_words_ms):.0f} / {percentile(r.first_words_ms, 95):.0f}"
            if r.first_words_ms
            else "-",
            f"{statistics.median(r.first_text_ms):.0f} / {percentile(r.first_text_ms, 95):.0f}",
            f"{statistics.median(r.updates_per_s):.2f} / {min(r.updates_per_s):.2f}" if r.updates_per_s else "-",
            f"{statistics.median(r.final_text_ms):.0f} / {percentile(r.final_text_ms, 95):.0f}"
            if r.final_text_ms
            else "-",
            str(r.rate_limited),
            f"{r.exact}/{r.concurrency}",
            str(r.stale),
        )
    Console(width=160).print(table)


async def main_async(platforms: list[str], concurrencies: list[int], options: Options) -> list[Result]:
    results = []
    for platform in platforms:
        for concurrency in concurrencies:
            results.append(await RUNNERS[platform](concurrency, options))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platforms", default=",".join(RUNNERS))
    parser.add_argument("--concurrency", default="1,20")
    parser.add_argument("--words", type=int, default=150)
    parser.add_argument("--strict", action="store_true", help="fakes stricter than the documented limits")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--checkpoint", type=float, default=1.0, help="seconds between saves of a growing answer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    options = Options(words=args.words, strict=args.strict, database=args.database, checkpoint=args.checkpoint)
    started = time.perf_counter()
    results = asyncio.run(main_async(args.platforms.split(","), [int(c) for c in args.concurrency.split(",")], options))
    print_table(results, options)
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
