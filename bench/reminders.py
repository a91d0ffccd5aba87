"""Reminders at scale: 10,000 reminders of 1,000 people due in the same minute, and the cost of waiting.

Three figures, on SQLite and (when it answers) PostgreSQL:

1. machinery: wall time for the real scheduler (``ReminderRunner.run_due``: claim each
   occurrence, open the person's conversation, record the delivery and the history message,
   move ``next_due``) to get every reminder out through an instant platform. This is what the
   bot itself costs; the platforms cost the rest. Beside it, the CPU time of the bot's process
   (all its threads; not the PostgreSQL server's) over the pass: it moves less with the machine's load.
2. platform-bound: when the last reminder would be delivered given each platform's published
   rate limits, from a discrete simulation of the sends in the order the scheduler made them
   (Discord: 5 messages per 5 s per channel and 50 requests per second per bot, opening a DM
   is one request; Slack: about 1 message per second per channel, conversations.open Tier 3,
   about 50 a minute per workspace). Half the people are on Discord, half on Slack. "DMs
   known" assumes the process already opened everyone's DM; "cold" is a fresh process.
3. idle: with every reminder due tomorrow, the time of one scheduler pass (follow zones when
   the people revision moved, look for abandoned occurrences, look for due reminders, find
   the next wake) and its SQL statements, at two table sizes: flat means no table scan.

Run: ``python -m bench.reminders [--reminders 10000] [--users 1000] [--backends sqlite,postgresql]``
Figures taken on a shared 2-core machine are noisy: compare them with care.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url

from core.access import AccessPolicy
from core.clock import ManualClock
from core.db.database import Database
from core.db.models import Identity, User
from core.db.models_reminders import Reminder
from core.messenger import Delivery, Outbox
from core.outbound import OutboundPart
from core.people import People
from core.reminders.delivery import ReminderDelivery
from core.reminders.occurrences import OccurrenceRepository
from core.reminders.runner import ReminderRunner
from core.reminders.store import ReminderStore
from core.speak import Speak
from core.types import ConversationRef, PlatformIdentity

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DUE = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# (sends per window per channel, window s), (requests per window per bot or workspace, window s), DM open window
LIMITS = {"discord": ((5, 5.0), (50, 1.0), (50, 1.0)), "slack": ((1, 1.0), (10_000, 1.0), (50, 60.0))}


@dataclass
class Window:
    """A sliding window of `limit` events per `seconds`: the earliest time the next event may happen."""

    limit: int
    seconds: float
    times: deque[float] = field(default_factory=deque)

    def take(self, at: float) -> float:
        if len(self.times) >= self.limit:
            at = max(at, self.times[0] + self.seconds)
            self.times.popleft()
        self.times.append(at)
        return at


class InstantPlatform:
    """A platform that accepts every post at once and records the order of sends (for the rate simulation)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sends: list[str] = []

    async def send_to_account(self, account: PlatformIdentity, text: str, files: Sequence[object] = ()) -> Delivery:
        raise NotImplementedError

    async def send_to_conversation(self, place: ConversationRef, text: str, files: Sequence[object] = ()) -> Delivery:
        raise NotImplementedError

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        self.sends.append(account.user_id)
        place = ConversationRef(self.platform, account.workspace, f"dm-{account.user_id}")
        return Delivery(self.platform, place, (str(len(self.sends)),))


def platform_bound(platform: str, sends: Sequence[str], *, cold: bool) -> float:
    """Seconds from the due minute until the last of `sends` (account ids, in order) is accepted."""
    (per_channel, channel_s), (per_bot, bot_s), (opens, open_s) = LIMITS[platform]
    channels: dict[str, Window] = defaultdict(lambda: Window(per_channel, channel_s))
    bot, opener = Window(per_bot, bot_s), Window(opens, open_s)
    opened: dict[str, float] = {}
    last = 0.0
    for account in sends:
        ready = 0.0
        if cold and account not in opened:
            opened[account] = opener.take(0.0)
            if platform == "discord":
                opened[account] = bot.take(opened[account])
        ready = opened.get(account, 0.0)
        at = bot.take(channels[account].take(ready))
        last = max(last, at)
    return last


async def fill(db: Database, users: int, reminders: int, due: datetime, *, prefix: str = "u") -> None:
    """`users` people (even: Discord, odd: Slack) and `reminders` reminders spread over them, all due at `due`."""
    async with db.engine.begin() as conn:
        rows = [{"email": f"{prefix}{n}@example.org", "display_name": f"{prefix}{n}", "timezone": "Europe/Lisbon", "settings": {},
                 "created_at": DUE} for n in range(users)]  # fmt: skip
        ids = list((await conn.execute(insert(User).returning(User.id), rows)).scalars())
        await conn.execute(
            insert(Identity),
            [{"user_id": uid, "platform": "discord" if n % 2 == 0 else "slack", "workspace": "" if n % 2 == 0 else "T1",
              "platform_user_id": f"{prefix}{n}", "display_name": f"u{n}", "created_at": DUE}
             for n, uid in enumerate(ids)],
        )  # fmt: skip
        local = due.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")  # Lisbon is UTC in December
        batch = []
        for n in range(reminders):
            uid = ids[n % users]
            batch.append({"user_id": uid, "conversation_id": None, "platform": "discord" if (uid - ids[0]) % 2 == 0
                          else "slack", "text": f"reminder {n}", "local_start": local, "timezone": "Europe/Lisbon",
                          "zone_fixed": False, "rrule": None, "state": "active", "next_due": due, "next_local": local,
                          "created_at": DUE, "updated_at": DUE})  # fmt: skip
            if len(batch) == 5000:
                await conn.execute(insert(Reminder), batch)
                batch = []
        if batch:
            await conn.execute(insert(Reminder), batch)
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))


def machinery(db: Database, clock: ManualClock) -> tuple[ReminderRunner, dict[str, InstantPlatform]]:
    """The runner of one process, its platforms instant."""
    platforms = {name: InstantPlatform(name) for name in ("discord", "slack")}
    outbox = Outbox(People(db, accounts=AccessPolicy(()), clock=clock))
    for platform in platforms.values():
        outbox.register(platform)  # type: ignore[arg-type]
    store = ReminderStore(db, clock=clock, max_active=10**9)
    occurrences = OccurrenceRepository(db, worker="bench")
    delivery = ReminderDelivery(occurrences, Speak(db, outbox, clock=clock), clock=clock)
    runner = ReminderRunner(
        database=db, store=store, occurrences=occurrences, delivery=delivery, clock=clock, sleep=clock.sleep
    )
    return runner, platforms


async def measure(backend: str, url: str, args: argparse.Namespace) -> dict[str, object]:
    db = Database(url)
    await db.migrate()
    try:
        clock = ManualClock(DUE + timedelta(seconds=30))
        await fill(db, args.users, args.reminders, DUE)
        runner, platforms = machinery(db, clock)
        started, cpu = time.perf_counter(), time.process_time()
        sent = await runner.run_due()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        result: dict[str, object] = {"backend": backend, "sent": sent, "wall": wall, "cpu": cpu}
        for name, platform in platforms.items():
            result[f"{name} known"] = platform_bound(name, platform.sends, cold=False)
            result[f"{name} cold"] = platform_bound(name, platform.sends, cold=True)
        statements = 0

        def count(*_args: object) -> None:
            nonlocal statements
            statements += 1

        idle: dict[int, tuple[float, float]] = {}
        total = args.reminders
        for step, added in enumerate((args.reminders, args.reminders * 4)):
            await fill(db, 10, added, DUE + timedelta(days=1), prefix=f"idle{step}-")
            total += added
            if db.dialect == "postgresql":
                async with db.engine.connect() as conn:
                    await conn.execute(text("ANALYZE"))
            await runner.run_due()  # the people revision is read; zones followed once
            for engine in db.sync_engines:
                event.listen(engine, "before_cursor_execute", count)
            times = []
            statements = 0
            for _ in range(args.passes):
                tick = time.perf_counter()
                await runner.run_due()
                await runner.next_wake()
                times.append(time.perf_counter() - tick)
            for engine in db.sync_engines:
                event.remove(engine, "before_cursor_execute", count)
            idle[total] = (statistics.median(times) * 1000, statements / args.passes)
        result["idle"] = idle
        return result
    finally:
        await db.dispose()


async def main_async(args: argparse.Namespace, console: Console) -> list[dict[str, object]]:
    results = []
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory() as folder:
            results.append(await measure("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", args))
    if "postgresql" in args.backends:
        admin = Database(POSTGRES_ADMIN_URL)
        name = f"captainslog_bench_{uuid.uuid4().hex[:10]}"
        try:
            async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OSError as exc:
            console.print(f"[yellow]PostgreSQL skipped: {exc}[/]")
            await admin.dispose()
            return results
        try:
            url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            results.append(await measure("postgresql", url, args))
        finally:
            async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reminders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--passes", type=int, default=50, help="idle passes timed per table size")
    parser.add_argument("--backends", default="sqlite,postgresql", type=lambda v: v.split(","))
    args = parser.parse_args(argv)
    console = Console()
    results = asyncio.run(main_async(args, console))
    due = Table(title=f"{args.reminders:,} reminders of {args.users:,} people due in one minute")
    for column in ("backend", "sent", "machinery s", "bot CPU s", "Discord s (DMs known / cold)",
                   "Slack s (DMs known / cold)"):  # fmt: skip
        due.add_column(column, justify="right")
    for r in results:
        due.add_row(str(r["backend"]), f"{r['sent']:,}", f"{r['wall']:.1f}", f"{r['cpu']:.1f}",
                    f"{r['discord known']:.0f} / {r['discord cold']:.0f}", f"{r['slack known']:.0f} / {r['slack cold']:.0f}")  # fmt: skip
    console.print(due)
    idle = Table(title="one scheduler pass with nothing due")
    for column in ("backend", "reminders in table", "pass ms (median)", "SQL statements"):
        idle.add_column(column, justify="right")
    for r in results:
        for size, (ms, statements) in r["idle"].items():  # type: ignore[attr-defined]
            idle.add_row(str(r["backend"]), f"{size:,}", f"{ms:.2f}", f"{statements:.0f}")
    console.print(idle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
