"""The daily-log trigger: APScheduler says "look now" every minute (and at start); the database decides.

APScheduler 3 cannot share its job store between processes, so it keeps no
state of ours: each tick asks :class:`core.daily.runner.DailyRunner` which days
are due, and the claim in the database makes each one run once across every
process sharing it. The first tick at start is the catch-up after downtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)


class DailyScheduler:
    """A runtime service (name, start, stop) that triggers `run_due` every `interval` seconds."""

    name = "daily log"

    def __init__(self, run_due: Callable[[], Awaitable[Any]], *, interval: float = 60.0) -> None:
        self.run_due = run_due
        self.interval = interval
        self.ticks = 0
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start triggering; the first look happens right away (catch-up after downtime)."""
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        scheduler.add_job(
            self._trigger,
            IntervalTrigger(seconds=self.interval, timezone=UTC),
            id="daily-log",
            next_run_time=datetime.now(UTC),  # APScheduler's own wall clock: it only triggers, never decides
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def _trigger(self) -> None:
        # Run on the loop by APScheduler's asyncio executor. A tick still working (a long render) makes the next one a no-op instead of a second runner.
        if self._running is not None and not self._running.done():
            return
        self._running = asyncio.get_running_loop().create_task(self._tick(), name="daily-log-tick")

    async def _tick(self) -> None:
        self.ticks += 1
        try:
            await self.run_due()
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("daily log tick failed")

    async def stop(self) -> None:
        """Stop triggering and cancel a tick in progress (its claims resume on the next start)."""
        if self._scheduler is not None:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._running is not None and not self._running.done():
            self._running.cancel()
            try:
                await self._running
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._running = None
