"""Prompt size as a conversation grows: the prompt stays under the budget at every step, with summaries present.

    python -m bench.prompt_size [--messages 10000] [--budget 16000]

A real ChatService with rolling summaries on a SQLite file; the model is
in-process and instant (summary requests get a ~80-word summary). After every
turn the main request is counted exactly (the same offline tokenizer the core
uses) and the table prints, at checkpoints, the largest prompt seen so far,
how many summaries exist (and their levels) and how many stored messages the
newest request carried verbatim. Every message stays stored: the last column
counts them in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench.turn_overhead import ADA, PLACE, sentence
from bench.wiring import build_core
from core.clock import ManualClock
from core.context import ContextBuilder
from core.db.database import Database
from core.db.models import Message
from core.db.models_summaries import Summary
from core.llm import ModelEvent, ModelFinished, ModelText, Usage
from core.summaries import Summaries
from core.summaries.writer import INSTRUCTIONS
from core.tokens import TOKENS_PER_REPLY, TokenCounter
from core.tools.registry import ToolRegistry
from core.types import IncomingMessage, TurnError

SUMMARY = (
    "Ada talked about her week: meetings, a report draft due Friday, a dentist appointment, a trip to Paris "
    "by train, a birthday gift for her sister and a bug in the release. She asked to be reminded of the "
    "report and the appointment. Open: which hotel to book, whether the deploy moves to Monday."
)


class CountingModel:
    """Answers at once; counts the tokens of every main request exactly."""

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self.last_prompt = 0
        self.last_messages = 0
        self.summary_calls = 0

    @property
    def chat_model_name(self) -> str:
        return "gpt-4o-mini"

    async def stream_chat(
        self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] = (), model: str | None = None
    ) -> AsyncIterator[ModelEvent]:
        if str(messages[0]["content"]).startswith(INSTRUCTIONS[:40]):
            self.summary_calls += 1
            yield ModelText(SUMMARY)
        else:
            self.last_prompt = TOKENS_PER_REPLY + sum(self.counter.message(str(m["content"])) for m in messages)
            self.last_messages = sum(1 for m in messages if m["role"] in ("user", "assistant"))
            yield ModelText("Noted. " + sentence(random.Random(len(messages))))
        yield ModelFinished("stop", Usage(0, 0))


async def grow(messages: int, budget: int, checkpoints: list[int]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await db.migrate()
        counter = TokenCounter("gpt-4o-mini")
        model = CountingModel(counter)
        clock = ManualClock(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
        context = ContextBuilder(counter, token_budget=budget)
        core = build_core(
            db, model, context, tools=ToolRegistry(), allowed=("bench:*",), clock=clock, default_timezone="Europe/Paris"
        )  # type: ignore[arg-type]
        core.install(Summaries(model, context))  # type: ignore[arg-type]
        rng = random.Random(1)
        largest = 0
        for turn in range(1, messages // 2 + 1):
            clock.advance(timedelta(minutes=7))
            incoming = IncomingMessage(PLACE, ADA, sentence(rng), clock())
            async with aclosing(core.chat.turn(incoming)) as events:
                async for event in events:
                    if isinstance(event, TurnError):
                        raise RuntimeError(event.message)
            await core.tasks.wait_idle()
            largest = max(largest, model.last_prompt)
            if turn * 2 in checkpoints:
                async with db.session() as session:
                    levels = (await session.scalars(select(Summary.level))).all()
                    stored = await session.scalar(select(func.count()).select_from(Message))
                rows.append(
                    (
                        turn * 2,
                        largest,
                        model.last_prompt,
                        len(levels),
                        max(levels, default=0),
                        model.last_messages,
                        model.summary_calls,
                        stored,
                    )
                )
        await core.chat.close()
        await db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--budget", type=int, default=16_000)
    args = parser.parse_args()
    checkpoints = [n for n in (10, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000) if n <= args.messages]
    rows = asyncio.run(grow(args.messages, args.budget, checkpoints))
    table = Table(title=f"Prompt size as the conversation grows (budget {args.budget:,} tokens)")
    for header in (
        "messages",
        "largest prompt",
        "last prompt",
        "summaries",
        "top level",
        "verbatim in last",
        "summary calls",
        "stored",
    ):
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*(f"{v:,}" for v in row))
    Console().print(table)
    worst = max(r[1] for r in rows)
    print(
        f"largest prompt {worst:,} tokens of {args.budget:,}: {'under' if worst <= args.budget else 'OVER'} the budget"
    )


if __name__ == "__main__":
    main()
