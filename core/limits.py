"""Limits on volume and cost, per person: messages a minute, messages and paid tools a day, turns waiting in
line, and tool calls per model round and per turn.

Daily counts (messages, images, web searches, Calendar changes) and the
messages of each minute (a clock minute, UTC) live in the database
(``usage_counts``), so several processes sharing it enforce one allowance.  A limit that is hit gives the user (or, for a tool, the model) one
clear sentence; nothing is stored and no model is called for that message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_usage import UsageCount

# Daily kinds, with the words a refusal uses.
MESSAGES = "messages"
IMAGES = "images"
WEB_SEARCHES = "web_searches"
CALENDAR_CHANGES = "calendar_changes"
_NOUNS = {MESSAGES: "messages", IMAGES: "images", WEB_SEARCHES: "web searches", CALENDAR_CHANGES: "Calendar changes"}


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Zero turns a limit off."""

    messages_per_minute: int = 12
    messages_per_day: int = 300
    images_per_day: int = 20
    waiting_per_conversation: int = 5
    tool_calls_per_round: int = 8
    tool_calls_per_turn: int = 24
    web_searches_per_day: int = 50
    calendar_changes_per_day: int = 50

    def daily(self, kind: str) -> int:
        """The day's allowance of ``kind`` (0: unlimited)."""
        return {
            MESSAGES: self.messages_per_day,
            IMAGES: self.images_per_day,
            WEB_SEARCHES: self.web_searches_per_day,
            CALENDAR_CHANGES: self.calendar_changes_per_day,
        }.get(kind, 0)


class DailyCounts:
    """Per user, day and kind: how many were used, counted in the database in one atomic statement."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._purged: date | None = None

    async def take(self, user_id: int, day: date, kind: str, limit: int) -> bool:
        """Count one more ``kind`` for the user unless ``limit`` is reached; whether it was counted."""
        table = UsageCount.__table__
        statement = (
            self._insert(table)
            .values(user_id=user_id, day=day, kind=kind, used=1)
            .on_conflict_do_update(
                index_elements=["user_id", "day", "kind"],
                set_={"used": table.c.used + 1},
                where=table.c.used < limit,
            )
            .returning(table.c.used)
        )
        async with self.db.engine.begin() as conn:
            if self._purged != day:  # earlier days' counts are of no use: drop them once a day
                await conn.execute(delete(table).where(table.c.day < day - timedelta(days=1)))
                self._purged = day
            counted = (await conn.execute(statement)).first()
        return counted is not None


class UsageLimits:
    """Counts what each user asks for and says when a limit is reached."""

    def __init__(
        self, settings: LimitSettings = LimitSettings(), *, clock: Clock = system_clock, db: Database | None = None
    ) -> None:
        """``db`` keeps the daily counts; without one, the daily limits must be off (zero)."""
        self.settings = settings
        self.clock = clock
        self.counts = DailyCounts(db) if db is not None else None

    async def take_message(self, user_id: int) -> str | None:
        """Count one message; a sentence for the user when it is over a limit (then it is not counted)."""
        per_minute = self.settings.messages_per_minute
        if per_minute:
            if self.counts is None:
                raise RuntimeError("a per-minute limit of messages is set but no database counts it")
            now = self.clock().astimezone(UTC)
            # Counted per clock minute, in the day's counts: one atomic statement shared by every process.
            if not await self.counts.take(user_id, now.date(), f"{MESSAGES}@{now:%H:%M}", per_minute):
                return f"You're writing faster than I can keep up with ({per_minute} messages a minute): wait a moment, then send that again."
        return await self.take(user_id, MESSAGES)

    async def take_image(self, user_id: int) -> str | None:
        """Count one generated image (a paid call); a sentence when today's allowance is used up."""
        return await self.take(user_id, IMAGES)

    async def take(self, user_id: int, kind: str) -> str | None:
        """Count one ``kind`` (see the module's kinds) for today; a sentence when the day's allowance is used up."""
        limit = self.settings.daily(kind)
        if not limit:
            return None
        if self.counts is None:
            raise RuntimeError(f"a daily limit of {kind} is set but no database counts it")
        if await self.counts.take(user_id, self.clock().astimezone(UTC).date(), kind, limit):
            return None
        return f"You've reached today's limit of {limit} {_NOUNS.get(kind, kind)}. It resets at midnight (UTC)."
