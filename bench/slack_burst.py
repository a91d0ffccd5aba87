"""Slack stricter than documented: final texts at 20 and 100 conversations in one workspace.

The real Slack adapter (slack-bolt in Socket Mode) runs against the loopback
Slack fake made stricter than Slack documents (``--update-burst`` chat.update
calls back to back, then 50 a minute; 3 stream starts and stops at once; 10
appends at once), which the bot does not know and must learn from the first
refusal.  The real core streams from the fake OpenAI server (300 ms to the
first token, then 40 words a second) on SQLite.  Every user writes at the same
moment; each mode (editing a placeholder, native streaming) runs on its own.

Per run it prints: the refusals (429s) by method, the final text's lag after
the model's last token (p50 / p95 / max), the time from the first DM until the
last final text, what 50 chat.update a minute would need for one final edit per
answer, and how many DMs end showing exactly the model's text with nothing
stale (no streaming marker, no message still being streamed, nothing twice).

Run: ``python -m bench.slack_burst [--concurrency 20,100] [--modes placeholder,native]
[--update-burst 5] [--words 150]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.stream import (
    SLACK_ACTIONS,
    Options,
    answer_text,
    bench_database,
    build_chat,
    percentile,
    poll,
    send_dms,
    visible_over_time,
)
from bench.wiring import slack_service
from tests.fakes.openai_server import FakeOpenAI, Reply


@dataclass
class BurstResult:
    """One run: a mode at a number of conversations."""

    mode: str
    concurrency: int
    refusals: Counter[str] = field(default_factory=Counter)
    final_lag_ms: list[float] = field(default_factory=list)
    last_final_s: float = float("nan")  # first DM -> the last DM showing its final text
    exact: int = 0


async def run(concurrency: int, *, native: bool, update_burst: int, words: int) -> BurstResult:
    """Every user DMs at once; returns what each DM showed and when, from the fakes' own logs."""
    from tests.fakes.slack_server import FakeSlack, SlackLimits

    limits = SlackLimits(update_burst=update_burst, stream_burst=3, append_burst=10)
    options = Options(words=words, strict=True)
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
                started = time.perf_counter()
                await send_dms(fake.user_sends_dm, users)
                channels = [fake.dm_channel(u) for u in users]

                def shown(channel: str) -> list[tuple[float, str]]:
                    calls = [
                        (e.t, SLACK_ACTIONS[e.method], e.ts or "", e.text or "")
                        for e in list(fake.log)
                        if e.channel == channel and e.method in SLACK_ACTIONS and e.ok
                    ]
                    return [(u.t, u.text) for u in visible_over_time(calls)]

                def settled(channel: str, answer: str) -> bool:
                    updates = shown(channel)
                    streaming = any(m.streaming for m in fake.channel_messages(channel))
                    return bool(updates) and updates[-1][1] == answer and not streaming

                await poll(lambda: all(settled(c, a) for c, a in zip(channels, answers.values(), strict=True)), 300)
                result = BurstResult("native" if native else "placeholder", concurrency)
                result.refusals = Counter(e.method for e in fake.rate_limited)
                finals = []
                for channel, answer in zip(channels, answers.values(), strict=True):
                    record = next(r for r in openai_fake.stream_log if r.text == answer)
                    updates = shown(channel)
                    final = next((t for t, text in updates if text == answer), None)
                    if settled(channel, answer):
                        result.exact += 1
                    if final is not None:
                        finals.append(final)
                        result.final_lag_ms.append((final - record.last_content_t) * 1000)
                if finals:
                    result.last_final_s = max(finals) - started
                return result
            finally:
                await service.stop()
                await model.close()


def print_table(results: list[BurstResult], update_burst: int, words: int) -> None:
    table = Table(
        title=f"Slack stricter than documented (chat.update: {update_burst} at once, then 50 a minute; "
        f"stream start/stop 3 at once), {words}-word answers, model 300 ms + 40 words/s"
    )
    for column in (
        "mode",
        "conversations",
        "429s (by method)",
        "final lag p50 / p95 / max (ms)",
        "first DM → last final (s)",
        "50 updates/min need (s)",
        "complete & exact",
    ):
        table.add_column(column, justify="right")
    for r in results:
        lags = r.final_lag_ms
        table.add_row(
            r.mode,
            str(r.concurrency),
            ", ".join(f"{m} {n}" for m, n in sorted(r.refusals.items())) or "0",
            f"{statistics.median(lags):.0f} / {percentile(lags, 95):.0f} / {max(lags):.0f}" if lags else "-",
            f"{r.last_final_s:.1f}",
            f"{max(0, r.concurrency - update_burst) * 60 / 50:.1f}",
            f"{r.exact}/{r.concurrency}",
        )
    Console(width=170).print(table)


async def main_async(concurrencies: list[int], modes: list[str], update_burst: int, words: int) -> list[BurstResult]:
    results = []
    for concurrency in concurrencies:
        for mode in modes:
            results.append(await run(concurrency, native=mode == "native", update_burst=update_burst, words=words))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="20,100")
    parser.add_argument("--modes", default="placeholder,native")
    parser.add_argument("--update-burst", type=int, default=5, help="chat.update calls the fake allows at once")
    parser.add_argument("--words", type=int, default=150)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    started = time.perf_counter()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    results = asyncio.run(main_async(concurrencies, args.modes.split(","), args.update_burst, args.words))
    print_table(results, args.update_burst, args.words)
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
