"""What is due now, decided from the database alone: the scheduler only says "look now".

A (user, day) is due when the user's end of day (their ``daily_time``, else
DAILY_SUMMARY_TIME; "off" turns it off) has passed, the day is at most
``catch_up_days`` back, they wrote that day, and its row is not posted. Rows
left unfinished (a failed step, a crash, a day waiting for a Google reconnect)
are resumed for longer, ``resume_days``, so a user who reconnects next week
still gets their day.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, timedelta

from core.clock import Clock
from core.daily.claim import DailyLogRepository
from core.daily.day import DayReader, local_day
from core.daily.job import DailyJob, DayOutcome, may_try_now
from core.daily.prefs import closes_at, closing_time

log = logging.getLogger(__name__)


class DailyRunner:
    """Finds the due days and runs their jobs one after another."""

    def __init__(
        self,
        *,
        job: DailyJob,
        reader: DayReader,
        repo: DailyLogRepository,
        clock: Clock,
        default_time: str = "22:30",
        catch_up_days: int = 3,
        resume_days: int = 30,
        deliverable: Callable[[int], Awaitable[bool]] | None = None,
    ) -> None:
        self.job = job
        self.reader = reader
        self.repo = repo
        self.clock = clock
        self.default_time = default_time
        self.catch_up_days = max(0, catch_up_days)
        self.resume_days = max(self.catch_up_days, resume_days)
        # Set in a process that serves only some platforms (the terminal chat): it leaves the days
        # of people it cannot post to alone, instead of claiming them and failing, or posting them
        # to the wrong place, while `captainslog run` could deliver them.
        self.deliverable = deliverable

    async def due(self) -> list[tuple[int, date]]:
        """The (user, day) pairs whose end of day has passed and which are not known to be finished."""
        now = self.clock()
        found: dict[tuple[int, date], None] = {}
        since = now - timedelta(days=self.catch_up_days + 2)  # + the widest time-zone offsets
        for person in await self.reader.active_users(since):
            at = closing_time(person.settings, self.default_time)
            if at is None:
                continue
            today = local_day(now, person.timezone)
            for back in range(self.catch_up_days, -1, -1):
                day = today - timedelta(days=back)
                if closes_at(day, at, person.timezone) <= now:
                    found[(person.id, day)] = None
        since_day = now.date() - timedelta(days=self.resume_days)
        for record in await self.repo.resumable(now, since=since_day, max_attempts=self.job.max_attempts):
            found[(record.user_id, record.day)] = None
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    async def run_due(self) -> dict[tuple[int, date], DayOutcome]:
        """Run every due job once (each never raises for its own failures).

        Returns what happened to each day there was work for (days without messages or
        already finished are left out).
        """
        outcomes: dict[tuple[int, date], DayOutcome] = {}
        for user_id, day in await self.due():
            record = await self.repo.get(user_id, day)
            if record is not None and (record.finished or not may_try_now(record, self.clock())):
                continue
            if self.deliverable is not None and not await self.deliverable(user_id):
                continue
            try:
                outcomes[(user_id, day)] = await self.job.run(user_id, day)
            except Exception:  # noqa: BLE001 - one user's day must not stop the others'
                log.exception("daily log of user %s day %s could not run", user_id, day)
                outcomes[(user_id, day)] = DayOutcome.FAILED
        _log_summary(outcomes.values())
        return {key: o for key, o in outcomes.items() if o not in (DayOutcome.NOTHING, DayOutcome.FINISHED)}


def _log_summary(outcomes: Iterable[DayOutcome]) -> None:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome not in (DayOutcome.NOTHING, DayOutcome.FINISHED):
            counts[outcome.value] = counts.get(outcome.value, 0) + 1
    if counts:
        log.info("daily logs: %s", ", ".join(f"{n} {name}" for name, n in sorted(counts.items())))
