"""Tomorrow's context: the first turn of a user's day starts knowing what happened last time.

On the user's first message of a new local day the model gets the last day's
summary, today's Calendar events (when Google is connected, under a short
timeout) and how long it has been since their last message. Later turns of the
same day keep only the summary's beginning, under a small token budget.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from core.chat.steps import ContextAddition, TurnFacts
from core.daily.day import DayReader
from core.db.database import Database
from core.db.models_daily import DailyLog
from core.export.layout import long_date
from core.google.calendar import CalendarClient
from core.google.tools import describe
from core.tokens import TokenCounter

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=7)  # an older summary is not "yesterday" any more


def how_long(delta: timedelta) -> str:
    """`3 days and 4 hours`, `9 hours`, `25 minutes`: the gap in words."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour")] if days else [(hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " and ".join(words) or "less than a minute"


class DailyContext:
    """A before-model step (the daily feature declares it: bot/daily_wiring.py)."""

    name = "daily-context"
    timeout = 3.0
    private = True  # the speaker's last day and Calendar: never in a place other people read

    def __init__(
        self,
        db: Database,
        reader: DayReader,
        *,
        calendar: CalendarClient | None = None,
        counter: TokenCounter | None = None,
        calendar_timeout: float = 1.5,
        later_budget: int = 120,
    ) -> None:
        self.db = db
        self.reader = reader
        self.calendar = calendar
        self.counter = counter or TokenCounter()
        self.calendar_timeout = calendar_timeout
        self.later_budget = later_budget

    async def _last_summary(self, user_id: int, today: date) -> tuple[date, str] | None:
        statement = (
            select(DailyLog.day, DailyLog.summary)
            .where(
                DailyLog.user_id == user_id,
                DailyLog.day < today,
                DailyLog.day >= today - LOOK_BACK,
                DailyLog.summary.is_not(None),
            )
            .order_by(DailyLog.day.desc())
            .limit(1)
        )
        async with self.db.engine.connect() as reader:
            row = (await reader.execute(statement)).first()
        return (row.day, row.summary) if row is not None and row.summary else None

    async def _events(self, turn: TurnFacts, today: date) -> list[str] | None:
        if self.calendar is None:
            return None
        start = datetime.combine(today, time(), turn.timezone)
        try:
            events = await asyncio.wait_for(
                self.calendar.list_events(
                    turn.user.id, start=start, end=start + timedelta(days=1), timezone=turn.timezone.key
                ),
                self.calendar_timeout,
            )
        except Exception as exc:  # noqa: BLE001 - not connected, refused, slow: the turn goes on without
            log.debug("no calendar for user %s's first turn: %s", turn.user.id, type(exc).__name__)
            return None
        return [describe(event) for event in events]

    def _beginning(self, text: str) -> str:
        if self.counter.count(text) <= self.later_budget:
            return text
        words = text.split()
        while words and self.counter.count(" ".join(words)) > self.later_budget:
            words = words[: max(1, int(len(words) * 0.8))] if len(words) > 1 else []
        return " ".join(words) + " …"

    async def before_model(self, turn: TurnFacts) -> ContextAddition | None:
        """The notes for this turn (None when there is nothing to say)."""
        today = turn.now.astimezone(turn.timezone).date()
        last = await self.reader.last_message_before(turn.user.id, turn.user_message_id)
        summary = await self._last_summary(turn.user.id, today)
        first_today = last is None or last.astimezone(turn.timezone).date() < today
        if not first_today:
            if summary is None:
                return None
            return ContextAddition(
                notes=[f"Beginning of the user's log of {long_date(summary[0])}: {self._beginning(summary[1])}"]
            )
        notes: list[str] = []
        if last is not None:
            notes.append(
                f"This is the user's first message today ({long_date(today)}); their previous message was "
                f"{how_long(turn.now - last)} ago."
            )
        if summary is not None:
            notes.append(f"The user's log of {long_date(summary[0])} (written at the end of that day):\n{summary[1]}")
        events = await self._events(turn, today)
        if events is not None:
            notes.append(
                f"Today's calendar ({turn.timezone.key}):\n" + "\n".join(events)
                if events
                else "Today's calendar is empty."
            )
        return ContextAddition(notes=notes) if notes else None
