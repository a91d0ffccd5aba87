"""A long soak of the real bot: is its memory and latency flat? ``python -m bench.soak [--minutes 30]``.

``captainslog run`` runs as a user runs it (a subprocess, the whole container: memory,
summaries, extraction, the daily scheduler) against the loopback Discord and OpenAI
fakes. ``--users`` people write in turn, ``--rate`` DMs a second in all, for
``--minutes``. Every minute the table gets a row: the bot's resident memory (VmRSS of
the process), how many questions reached the model in that minute, and DM → model
request (p50, p95): from the moment the DM was handed to the fake gateway to the moment
the fake OpenAI server received the streamed chat request for it.

Flat means: once the first minutes have filled the caches, RSS within 5 % and the
latency p50 not drifting up. The last line compares the settled start with the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[1]
SETTLE_MINUTES = 3


@dataclass
class Minute:
    minute: int
    rss_mb: float
    asked: int
    p50_ms: float
    p95_ms: float


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _start_bot(workdir: Path, discord: FakeDiscord, openai: FakeOpenAI) -> subprocess.Popen[bytes]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(
        PYTHONPATH=str(ROOT),
        DATA_DIR=str(workdir / "data"),
        OPENAI_API_KEY="sk-soak",
        OPENAI_BASE_URL=openai.base_url,
        DISCORD_TOKEN=discord.bot_token,
        DISCORD_API_URL=discord.api_url,
        DISCORD_GATEWAY_URL=discord.gateway_url,
        ALLOWED_ACCOUNTS="discord:*",
        MESSAGES_PER_MINUTE="1000",
        MESSAGES_PER_DAY="100000",
        LOG_LEVEL="WARNING",
    )
    log = (workdir / "bot.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=workdir, env=env, stdout=log, stderr=log)


def _asked(openai: FakeOpenAI, seen: int) -> tuple[list[tuple[str, float]], int]:
    """The (question, arrival) of streamed chat requests since ``seen``; the new count."""
    requests = list(openai.requests)
    found = []
    for record in requests[seen:]:
        if record.path == "/v1/chat/completions" and record.json and record.json.get("stream"):
            found.append((str(record.json["messages"][-1]["content"]).split("]\n")[-1], record.t))
    return found, len(requests)


def soak(minutes: int, users: int, rate: float) -> list[Minute]:
    """Run the soak; one row per minute."""
    rows: list[Minute] = []
    with tempfile.TemporaryDirectory() as folder, FakeOpenAI() as openai, FakeDiscord() as discord:
        workdir = Path(folder)
        openai.default = lambda _request: Reply("Noted. " + " ".join(f"word{n}" for n in range(60)))
        people = [discord.add_user(name=f"soak{n}")["id"] for n in range(users)]
        bot = _start_bot(workdir, discord, openai)
        try:
            discord.wait_connected(timeout=60)
            time.sleep(3)  # recovery and the start-up backfill
            sent: dict[str, float] = {}
            seen = 0
            start = time.perf_counter()
            n = 0
            for minute in range(1, minutes + 1):
                minute_end = start + minute * 60
                while time.perf_counter() < minute_end:
                    text = f"soak message {n}: the harbour was busy today, boats in and out"
                    sent[text] = time.perf_counter()
                    discord.user_sends_dm(people[n % users], text)
                    n += 1
                    time.sleep(max(0.0, min(1 / rate, minute_end - time.perf_counter())))
                if bot.poll() is not None:
                    raise RuntimeError(
                        f"the bot exited ({bot.returncode}): {(workdir / 'bot.log').read_text()[-2000:]}"
                    )
                found, seen = _asked(openai, seen)
                latencies = [(t - sent.pop(q)) * 1000 for q, t in found if q in sent]
                row = Minute(
                    minute, _rss_mb(bot.pid), len(latencies), _percentile(latencies, 0.5), _percentile(latencies, 0.95)
                )
                rows.append(row)
                print(
                    f"minute {row.minute}: RSS {row.rss_mb:.1f} MB, {row.asked} asked, p50 {row.p50_ms:.0f} ms",
                    file=sys.stderr,
                )
        finally:
            bot.terminate()
            try:
                bot.wait(timeout=60)
            except subprocess.TimeoutExpired:
                bot.kill()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1.0, help="DMs a second, all users together")
    args = parser.parse_args(argv)
    rows = soak(args.minutes, args.users, args.rate)
    table = Table(title=f"Soak: {args.users} users, {args.rate:g} DM/s, {args.minutes} min (the real bot on the fakes)")
    for column in ("minute", "RSS MB", "asked", "DM→request p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row.minute), f"{row.rss_mb:.1f}", str(row.asked), f"{row.p50_ms:.0f}", f"{row.p95_ms:.0f}")
    console = Console()
    console.print(table)
    settled = rows[SETTLE_MINUTES:]
    if len(settled) >= 4:
        half = len(settled) // 2
        first, last = settled[:half], settled[half:]
        change = (settled[-1].rss_mb - settled[0].rss_mb) / settled[0].rss_mb * 100
        console.print(
            f"after minute {settled[0].minute}: RSS {settled[0].rss_mb:.1f} → {settled[-1].rss_mb:.1f} MB "
            f"({change:+.1f} %); DM→request p50 {statistics.median(r.p50_ms for r in first):.0f} → "
            f"{statistics.median(r.p50_ms for r in last):.0f} ms (median of each half)"
        )


if __name__ == "__main__":
    main()
