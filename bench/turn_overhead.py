"""What one turn costs the core itself, model time excluded.

A real :class:`~core.chat.ChatService` (database, context builder, token
counter, tools, access policy) runs complete turns against a model that answers
at once, in process (:class:`InstantModel`): whatever time a turn takes is the
core's own — storing the user's message and the answer row, reading the
context window, building the request, finishing the answer.

For each backend (a SQLite file; PostgreSQL in a temporary database) and each
history size, the conversation is first filled with that many stored messages,
then ``--turns`` timed turns run after a warm-up::

    python -m bench.turn_overhead [--turns 200] [--sizes 100,10000,100000] [--backends sqlite,postgresql]

The target is a p50 under 5 ms that stays flat as the history grows.
``--phases`` adds a table of where a turn's time goes (storing the turn, reading
the window, building the request, finishing the answer), and ``--profile`` a
cProfile of the largest history on each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from core.access import AccessPolicy
from core.chat import ChatService
from core.context import ContextBuilder
from core.db.database import Database
from core.db.models import Message
from core.db.repositories import ConversationRepository, UserRepository
from core.llm import ModelEvent, ModelFinished, ModelText, Usage
from core.tokens import TokenCounter
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
from core.tools.registry import ToolRegistry
from core.types import ConversationRef, IncomingMessage, PlatformIdentity, TurnError

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPTAINSLOG_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
PLACE = ConversationRef("bench", "local", "dm-ada")
ADA = PlatformIdentity("bench", "local", "ada", display_name="Ada")
SEED_BATCH = 5_000
ANSWER = "Sure. I noted that, and I will remind you about it tomorrow morning before your first meeting."

_WORDS = (
    "the a to and of in for on with at from about meeting tomorrow morning evening today week project "
    "report draft review coffee lunch dinner train flight hotel ticket call email message note remind "
    "remember idea plan budget invoice doctor dentist appointment birthday gift garden book chapter "
    "code bug release deploy server database query test fix feature design sketch music concert run "
    "walk weather rain sun cold warm quick question answer thanks please could would should maybe "
    "really great good bad late early again later soon never always Paris London Berlin Monday Friday"
).split()


class InstantModel:
    """A :class:`core.llm.ChatModel` that answers at once: one text piece, then the finish."""

    def __init__(self, answer: str = ANSWER) -> None:
        self.answer = answer
        self.last_request_size = 0

    @property
    def chat_model_name(self) -> str:
        return "gpt-4o-mini"

    async def stream_chat(
        self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] = (), model: str | None = None
    ) -> AsyncIterator[ModelEvent]:
        """Yield the whole answer and the finish without waiting for anything."""
        self.last_request_size = len(messages)
        yield ModelText(self.answer)
        yield ModelFinished("stop", Usage(prompt_tokens=1_000, completion_tokens=20))


# The parts of a turn that --phases times: (label, object attribute of ChatService, method).
PHASES = (
    ("store turn", "messages", "start_turn"),
    ("read window", "messages", "recent_for_context"),
    ("build request", "context", "build"),
    ("finish answer", "messages", "finish"),
)


@dataclass(frozen=True)
class Result:
    """Timings of one backend and history size, in milliseconds."""

    backend: str
    history: int
    timings_ms: list[float]
    context_messages: int
    seed_seconds: float
    phases_ms: dict[str, list[float]]

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.timings_ms, n=100, method="inclusive")[p - 1]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.timings_ms)


def make_chat_service(db: Database, model: InstantModel) -> ChatService:
    """A ChatService wired like bot/container.py, on ``db`` and ``model``."""
    return ChatService(
        db=db,
        model=model,
        context=ContextBuilder(TokenCounter("gpt-4o-mini")),
        tools=ToolRegistry.of(builtin_tools(Calculator())),
        access=AccessPolicy(["bench:*"]),
        default_timezone="Europe/Paris",
    )


def instrument(chat: ChatService) -> dict[str, list[float]]:
    """Time the phases of :data:`PHASES` on this service's own objects; returns the growing timings."""
    timings: dict[str, list[float]] = defaultdict(list)

    def timed(label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        if asyncio.iscoroutinefunction(method):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await method(*args, **kwargs)
                finally:
                    timings[label].append((time.perf_counter() - started) * 1000)
        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return method(*args, **kwargs)
                finally:
                    timings[label].append((time.perf_counter() - started) * 1000)

        return wrapper

    for label, owner, name in PHASES:
        target = getattr(chat, owner)
        setattr(target, name, timed(label, getattr(target, name)))
    return timings


def sentence(rng: random.Random) -> str:
    """A chat message of 20 to 60 words."""
    words = rng.choices(_WORDS, k=rng.randint(20, 60))
    return " ".join(words).capitalize() + "."


async def seed_history(db: Database, size: int, counter: TokenCounter, *, seed: int = 7) -> None:
    """Store ``size`` messages, user and assistant in turn, in the conversation at :data:`PLACE`."""
    user = await UserRepository(db).resolve(ADA)
    conversation_id = await ConversationRepository(db).open_for(PLACE, user.id)
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(minutes=size + 1)
    for first in range(0, size, SEED_BATCH):
        rows = []
        for n in range(first, min(size, first + SEED_BATCH)):
            content = sentence(rng)
            is_user = n % 2 == 0
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "author_user_id": user.id if is_user else None,
                    "role": "user" if is_user else "assistant",
                    "content": content,
                    "attachments": [],
                    "created_at": start + timedelta(minutes=n),
                    "platform_message_id": None,
                    "platform_parts": [],
                    "status": "complete",
                    "status_reason": "",
                    "token_count": counter.count(content),
                    "model": "" if is_user else "gpt-4o-mini",
                }
            )
        # A Core executemany on the table: no ORM bookkeeping, no RETURNING of ids.
        async with db.engine.begin() as connection:
            await connection.execute(insert(Message.__table__), rows)
    if db.dialect == "postgresql":
        # Fresh planner statistics, as autovacuum would soon have them (committed: a rolled-back ANALYZE is lost).
        async with db.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))


async def timed_turns(chat: ChatService, count: int, rng: random.Random) -> list[float]:
    """Run ``count`` turns, consuming every event; returns each turn's time in milliseconds."""
    timings: list[float] = []
    for _ in range(count):
        incoming = IncomingMessage(PLACE, ADA, sentence(rng), datetime.now(UTC))
        started = time.perf_counter()
        async with aclosing(chat.turn(incoming)) as events:
            async for event in events:
                if isinstance(event, TurnError):
                    raise RuntimeError(f"a turn failed: {event.message}")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def measure(
    backend: str, url: str, size: int, *, turns: int, warmup: int, profile: bool, phases: bool
) -> tuple[Result, str]:
    """Seed a fresh schema at ``url`` with ``size`` messages, then time ``turns`` turns."""
    db = Database(url)
    try:
        await db.migrate()
        counter = TokenCounter("gpt-4o-mini")
        began = time.perf_counter()
        await seed_history(db, size, counter)
        seeded = time.perf_counter() - began
        model = InstantModel()
        chat = make_chat_service(db, model)
        rng = random.Random(size)
        await timed_turns(chat, warmup, rng)
        phase_timings = instrument(chat) if phases else {}
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        timings = await timed_turns(chat, turns, rng)
        report = ""
        if profiler is not None:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            report = out.getvalue()
        return Result(backend, size, timings, model.last_request_size, seeded, dict(phase_timings)), report
    finally:
        await db.dispose()


def postgres_reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            return True
    except OSError:
        return False


async def run_postgres(
    sizes: Sequence[int], *, turns: int, warmup: int, profile: bool, phases: bool, console: Console
) -> list[tuple[Result, str]]:
    """Each size on a fresh temporary PostgreSQL database, dropped afterwards."""
    if not postgres_reachable(POSTGRES_ADMIN_URL):
        console.print(
            f"[yellow]PostgreSQL skipped: nothing answers at {make_url(POSTGRES_ADMIN_URL).render_as_string()}[/]"
        )
        return []
    admin = Database(POSTGRES_ADMIN_URL)
    results = []
    try:
        for size in sizes:
            name = f"captainslog_bench_{uuid.uuid4().hex[:10]}"
            async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
                results.append(
                    await measure(
                        "postgresql",
                        url,
                        size,
                        turns=turns,
                        warmup=warmup,
                        profile=profile and size == max(sizes),
                        phases=phases,
                    )
                )
            finally:
                async with admin.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
    return results


async def run_sqlite(
    sizes: Sequence[int], *, turns: int, warmup: int, profile: bool, phases: bool
) -> list[tuple[Result, str]]:
    """Each size on a fresh SQLite file in a temporary directory."""
    results = []
    with tempfile.TemporaryDirectory(prefix="captainslog-bench-") as directory:
        for size in sizes:
            url = f"sqlite+aiosqlite:///{Path(directory) / f'history-{size}.db'}"
            results.append(
                await measure(
                    "sqlite",
                    url,
                    size,
                    turns=turns,
                    warmup=warmup,
                    profile=profile and size == max(sizes),
                    phases=phases,
                )
            )
    return results


def table(results: Sequence[Result], turns: int) -> Table:
    """The results as a rich table."""
    out = Table(title=f"Core cost per turn, model excluded ({turns} turns each)")
    for column in ("backend", "history", "in context", "p50 ms", "p95 ms", "p99 ms", "mean ms", "seeding"):
        out.add_column(column, justify="left" if column == "backend" else "right", no_wrap=True)
    for r in results:
        out.add_row(
            r.backend,
            f"{r.history:,}",
            str(r.context_messages),
            f"{r.percentile(50):.2f}",
            f"{r.percentile(95):.2f}",
            f"{r.percentile(99):.2f}",
            f"{r.mean:.2f}",
            f"{r.seed_seconds:.1f} s",
        )
    return out


def phase_table(results: Sequence[Result]) -> Table:
    """Median milliseconds per turn of each phase (a phase may run more than once in a turn)."""
    out = Table(title="Where a turn's time goes (median ms per call)")
    out.add_column("backend", no_wrap=True)
    out.add_column("history", justify="right", no_wrap=True)
    out.add_column("whole turn", justify="right", no_wrap=True)
    for label, _, _ in PHASES:
        out.add_column(label, justify="right", no_wrap=True)
    for r in results:
        out.add_row(
            r.backend,
            f"{r.history:,}",
            f"{r.percentile(50):.2f}",
            *(
                f"{statistics.median(r.phases_ms[label]):.2f}" if r.phases_ms.get(label) else "–"
                for label, _, _ in PHASES
            ),
        )
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.turn_overhead", description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200, help="timed turns per backend and size (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed turns first (default 20)")
    parser.add_argument("--sizes", default="100,10000,100000", help="messages already in the conversation")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--phases", action="store_true", help="also time the phases of each turn")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest history on each backend")
    args = parser.parse_args(argv)
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown or args.turns < 2:
        parser.error(f"unknown backend(s) {sorted(unknown)}" if unknown else "--turns must be at least 2")
    return args


async def main_async(args: argparse.Namespace, console: Console) -> list[Result]:
    """Run every requested backend and size; print profiles as they come."""
    results: list[tuple[Result, str]] = []
    options = {"turns": args.turns, "warmup": args.warmup, "profile": args.profile, "phases": args.phases}
    for backend in args.backends:
        console.print(f"[dim]{backend}: seeding and timing {', '.join(f'{s:,}' for s in args.sizes)} messages…[/]")
        if backend == "sqlite":
            results += await run_sqlite(args.sizes, **options)
        else:
            results += await run_postgres(args.sizes, console=console, **options)
    for result, report in results:
        if report:
            console.rule(f"profile: {result.backend}, {result.history:,} messages, {args.turns} turns")
            console.print(report, markup=False, highlight=False)
    return [result for result, _ in results]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; prints the table and returns the exit code."""
    args = parse_args(argv)
    console = Console()
    if console.width < 100:
        console = Console(width=100)
    results = asyncio.run(main_async(args, console))
    console.print(table(results, args.turns))
    if args.phases:
        console.print(phase_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
