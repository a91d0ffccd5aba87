"""Streaming benchmark: how fast and how smoothly answers appear on a platform.

The real adapter (discord.py / slack-bolt) runs against the loopback fake of its
platform, the real core against the fake OpenAI server, on an embedded SQLite
database.  The model streams at a fixed rate (300 ms to the first token, then
40 words a second).  For 1 and 20 conversations at once it measures, per
conversation, from the platform fake's own arrival times:

- first text: model's first token → the platform receives the first edit showing answer text;
- updates/s: visible updates of the answer (edits, and posts of further parts) from the first
  text to the final text, divided by that time;
- 429s: rate-limited calls the platform refused;
- final text: model's last token → the platform shows the complete answer without marker;
- exact: the platform shows exactly the model's text.

Run: ``python -m bench.stream [--platforms discord,slack] [--concurrency 1,20] [--words 150]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.access import AccessPolicy
from core.chat import ChatService
from core.commands import CommandSet
from core.context import ContextBuilder
from core.db.database import Database
from core.llm import ModelNames, OpenAIModel
from core.tokens import TokenCounter
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
from core.tools.registry import ToolRegistry
from tests.fakes.openai_server import FakeOpenAI, Reply

MARKER = "▌"


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


@dataclass
class Result:
    platform: str
    concurrency: int
    first_text_ms: list[float]
    final_text_ms: list[float]
    updates_per_s: list[float]
    rate_limited: int
    exact: int


async def poll(done: Callable[[], bool], timeout: float) -> None:
    """Wait for ``done()`` without stealing much time from the bot under test."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the answers did not all arrive")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)


def answer_text(n: int, words: int) -> str:
    filler = ("the quick brown fox jumps over the lazy dog and keeps on running " * 40).split()
    return f"Answer {n}: " + " ".join(filler[:words])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def build_chat(
    openai_fake: FakeOpenAI, data_dir: Path, allowed: tuple[str, ...]
) -> tuple[ChatService, OpenAIModel, Database]:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'bench.db'}")
    await db.migrate()
    model = OpenAIModel(api_key="sk-test", base_url=openai_fake.base_url, models=ModelNames(), max_retries=0)
    chat = ChatService(
        db=db,
        model=model,
        context=ContextBuilder(TokenCounter()),
        tools=ToolRegistry.of(builtin_tools(Calculator())),
        access=AccessPolicy(allowed),
    )
    return chat, model, db


def summarise(platform: str, concurrency: int, conversations: list[Conversation], rate_limited: int) -> Result:
    first, final, rates = [], [], []
    exact = 0
    for conv in conversations:
        texts = [u for u in conv.updates if u.text.replace(MARKER, "").strip()]
        if not texts:
            continue
        first_t = texts[0].t
        final_update = next((u for u in conv.updates if u.text == conv.answer), None)
        first.append((first_t - conv.first_token) * 1000)
        if final_update is not None:
            exact += 1
            final.append((final_update.t - conv.last_token) * 1000)
            shown = [u for u in texts if first_t <= u.t <= final_update.t]
            span = final_update.t - first_t
            rates.append(len(shown) / span if span > 0 else float("nan"))
    return Result(platform, concurrency, first, final, rates, rate_limited, exact)


# -- Discord ----------------------------------------------------------------------------------


async def run_discord(concurrency: int, words: int) -> Result:
    import discord.gateway
    import discord.http

    from adapters.discord import DiscordService
    from tests.fakes.discord_server import FakeDiscord

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    with FakeOpenAI() as openai_fake, FakeDiscord() as fake, tempfile.TemporaryDirectory() as tmp:
        chat, model, db = await build_chat(openai_fake, Path(tmp), ("discord:*",))
        service = DiscordService(
            token=fake.bot_token,
            chat=chat,
            commands=CommandSet(chat, model),
            api_url=fake.api_url,
            gateway_url=fake.gateway_url,
            guild_ready_timeout=0.1,
        )
        await service.start()
        try:
            users = [fake.add_user(name=f"user{n}")["id"] for n in range(concurrency)]
            answers = {f"question {n}": answer_text(n, words) for n in range(concurrency)}
            openai_fake.default = lambda request: Reply.at_rate(
                answers[str(request["messages"][-1]["content"]).split("]\n")[-1]], 0.3, 40.0
            )
            fake.clear_records()
            await asyncio.gather(
                *(asyncio.to_thread(fake.user_sends_dm, u, f"question {n}") for n, u in enumerate(users))
            )
            channels = [fake.dm_channel_id(u) for u in users]

            finals = set(answers.values())

            def all_final() -> bool:
                # Read the fake's request log (cheap) rather than its message store (deep copies).
                shown = {e.content for e in list(fake.log) if e.route == "messages.edit"}
                return finals <= shown

            await poll(all_final, 60)
            conversations = []
            for channel, answer in zip(channels, answers.values(), strict=True):
                conv = Conversation(answer)
                conv.updates = [
                    Update(e.t, e.content or "")
                    for e in fake.log
                    if e.channel_id == channel and e.route in ("messages.create", "messages.edit") and e.status < 300
                ]
                record = next(r for r in openai_fake.stream_log if r.text == answer)
                conv.first_token, conv.last_token = record.first_content_t, record.last_content_t
                conversations.append(conv)
            return summarise("discord", concurrency, conversations, len(fake.rate_limited))
        finally:
            await service.stop()
            await model.close()
            await db.dispose()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


# -- Slack ---------------------------------------------------------------------------------


async def run_slack(concurrency: int, words: int, *, native: bool = False) -> Result:
    from bot.config import Settings
    from bot.platforms import slack_service
    from tests.fakes.slack_server import FakeSlack

    with FakeOpenAI() as openai_fake, FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        chat, model, db = await build_chat(openai_fake, Path(tmp), ("slack:*",))
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            slack_bot_token=fake.bot_token,
            slack_app_token=fake.app_token,
            slack_api_url=fake.api_url,
            slack_native_streaming=native,
        )
        service = slack_service(settings, chat=chat, commands=CommandSet(chat, model))
        await service.start()
        try:
            users = [f"U{n:04d}" for n in range(concurrency)]
            answers = {f"question {n}": answer_text(n, words) for n in range(concurrency)}
            openai_fake.default = lambda request: Reply.at_rate(
                answers[str(request["messages"][-1]["content"]).split("]\n")[-1]], 0.3, 40.0
            )
            await asyncio.gather(
                *(asyncio.to_thread(fake.user_sends_dm, u, f"question {n}") for n, u in enumerate(users))
            )
            finals = set(answers.values())
            shown_methods = (
                "chat.update",
                "chat.postMessage",
                "chat.stopStream",
                "chat.appendStream",
                "chat.startStream",
            )

            def all_final() -> bool:
                return finals <= {
                    m.text
                    for u in users
                    for m in fake.channel_messages(fake.dm_channel(u))
                    if m.is_bot and not m.streaming
                }

            await poll(all_final, 120)
            conversations = []
            for user, answer in zip(users, answers.values(), strict=True):
                channel = fake.dm_channel(user)
                conv = Conversation(answer)
                # A native stream shows what was appended so far; a posted or edited message its text.
                # (Native answers fall back to a placeholder when the stream tier is used up.)
                shown = ""
                for e in fake.log:
                    if e.channel != channel or e.method not in shown_methods or not e.ok:
                        continue
                    if e.method.endswith("Stream"):
                        if e.method == "chat.startStream":
                            shown = ""
                        shown += e.text or ""
                    else:
                        shown = e.text or ""
                    conv.updates.append(Update(e.t, shown))
                record = next(r for r in openai_fake.stream_log if r.text == answer)
                conv.first_token, conv.last_token = record.first_content_t, record.last_content_t
                conversations.append(conv)
            name = "slack (native)" if native else "slack"
            return summarise(name, concurrency, conversations, len(fake.rate_limited))
        finally:
            await service.stop()
            await model.close()
            await db.dispose()


async def run_slack_native(concurrency: int, words: int) -> Result:
    return await run_slack(concurrency, words, native=True)


RUNNERS: dict[str, Callable[[int, int], Awaitable[Result]]] = {
    "discord": run_discord,
    "slack": run_slack,
    "slack-native": run_slack_native,
}


def print_table(results: list[Result], words: int) -> None:
    table = Table(title=f"Streaming: model 300 ms to first token, 40 words/s, {words}-word answers")
    for column in (
        "platform",
        "conversations",
        "first text p50 / p95 (ms)",
        "updates/s p50 / min",
        "final text p50 / p95 (ms)",
        "429s",
        "complete & exact",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.platform,
            str(r.concurrency),
            f"{statistics.median(r.first_text_ms):.0f} / {percentile(r.first_text_ms, 95):.0f}",
            f"{statistics.median(r.updates_per_s):.2f} / {min(r.updates_per_s):.2f}" if r.updates_per_s else "-",
            f"{statistics.median(r.final_text_ms):.0f} / {percentile(r.final_text_ms, 95):.0f}"
            if r.final_text_ms
            else "-",
            str(r.rate_limited),
            f"{r.exact}/{r.concurrency}",
        )
    Console(width=160).print(table)


async def main_async(platforms: list[str], concurrencies: list[int], words: int) -> list[Result]:
    results = []
    for platform in platforms:
        for concurrency in concurrencies:
            results.append(await RUNNERS[platform](concurrency, words))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platforms", default=",".join(RUNNERS))
    parser.add_argument("--concurrency", default="1,20")
    parser.add_argument("--words", type=int, default=150)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    results = asyncio.run(
        main_async(args.platforms.split(","), [int(c) for c in args.concurrency.split(",")], args.words)
    )
    print_table(results, args.words)
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
