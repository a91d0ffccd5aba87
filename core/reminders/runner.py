"""The reminder scheduler: sleeps until the next due time (one index lookup), then claims and delivers.

No scan of the table on a timer: each pass asks the index on (state, next_due) for
what is due and for the next due time, then sleeps on the injected clock until then
(at most :data:`MAX_SLEEP`, so reminders set by another process are seen within it),
or until :meth:`ReminderRunner.poke` says a reminder was just set here. Every process
sharing the database runs one; the claim makes each occurrence go out once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from core.clock import Clock, Sleep
from core.db.database import Database
from core.db.people import PeopleRepository
from core.reminders.anchors import CalendarAnchors
from core.reminders.delivery import ReminderDelivery
from core.reminders.occurrences import Occurrence, OccurrenceRepository
from core.reminders.store import ReminderStore

log = logging.getLogger(__name__)

MAX_SLEEP = 60.0
MIN_SLEEP = 1.0
BATCH = 200


class ReminderRunner:
    """One pass (:meth:`run_due`) and the loop around it (a runtime service: name, start, stop)."""

    name = "reminders"

    def __init__(
        self,
        *,
        database: Database,
        store: ReminderStore,
        occurrences: OccurrenceRepository,
        delivery: ReminderDelivery,
        clock: Clock,
        sleep: Sleep,
        concurrency: int = 20,
        platforms: tuple[str, ...] | None = None,
        anchors: CalendarAnchors | None = None,
    ) -> None:
        self.store = store
        self.occurrences = occurrences
        self.delivery = delivery
        self.clock = clock
        self.sleep = sleep
        self.platforms = platforms  # only reminders asked on these (the terminal chat's process)
        self.anchors = anchors  # keeps calendar-anchored reminders on their events' times
        self._people = PeopleRepository(database)
        self._revision: int | None = None
        self._gate = asyncio.Semaphore(concurrency)
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    def poke(self) -> None:
        """A reminder was set or changed here: look again now instead of at the planned wake."""
        self._poked.set()

    async def _send(self, held: Occurrence | None) -> int:
        if held is None:
            return 0
        async with self._gate:
            try:
                return int(await self.delivery.deliver(held) == "delivered")
            except Exception:  # noqa: BLE001 - one broken reminder must not stop the others; its lease runs out
                log.exception("reminder occurrence %s failed", held.id)
                return 0

    async def run_due(self) -> int:
        """Follow zone changes, resume abandoned occurrences, claim and deliver what is due; returns how many went out."""
        self.passes += 1
        revision = await self._people.revision()
        if revision != self._revision:
            self._revision = revision
            await self.store.follow_zones()
        if self.anchors is not None:
            await self.anchors.refresh()
        now = self.clock()
        stale = await self.occurrences.stale(now, platforms=self.platforms)
        self.delivery.new_pass()  # a pass's reminders of one person share one look-up of their accounts
        sent = sum(await asyncio.gather(*(self._take_over(i, now) for i in stale)))
        while True:
            now = self.clock()
            due = await self.store.due(now, limit=BATCH, platforms=self.platforms)
            if not due:
                return sent
            won = await self.occurrences.claim_many(due, now)
            if not won:
                return sent  # all taken by others this instant; their next_due moves on
            self.delivery.new_pass()  # each batch looks accounts up afresh: one unlinked meanwhile is not used
            sent += sum(await asyncio.gather(*(self._send(held) for held in won)))

    async def _take_over(self, occurrence_id: int, now: datetime) -> int:
        return await self._send(await self.occurrences.take_over(occurrence_id, now))

    async def next_wake(self) -> datetime | None:
        """The next due reminder or the next lease to run out, whichever is first."""
        times = [
            t
            for t in (await self.store.next_wake(self.platforms), await self.occurrences.next_stale(self.platforms))
            if t
        ]
        return min(times) if times else None

    async def run(self) -> None:
        """Pass, sleep until the next due time (or a poke), pass again; until cancelled."""
        fruitless = 0  # passes in a row that found something due and could not take it
        while True:
            self._poked.clear()
            sent = 0
            try:
                sent = await self.run_due()
                wake = await self.next_wake()
            except Exception:  # noqa: BLE001 - the database may be away; the next pass tries again
                log.exception("reminder pass failed")
                wake = None
            delay = MAX_SLEEP if wake is None else min(MAX_SLEEP, (wake - self.clock()).total_seconds())
            if delay > 0:
                fruitless = 0
            else:
                fruitless = 0 if sent else fruitless + 1
                if fruitless <= 1:
                    continue  # more came due meanwhile: look again at once
                delay = MIN_SLEEP  # due but not ours to take (another process holds it): never spin
            poked = asyncio.ensure_future(self._poked.wait())
            # An absolute deadline: the sleep starts on a later turn of the loop, and a clock moved
            # meanwhile must shorten it, not push it past the due time.
            slept = asyncio.ensure_future(self._sleep_until(self.clock() + timedelta(seconds=delay)))
            try:
                await asyncio.wait((poked, slept), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (poked, slept):
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter

    async def _sleep_until(self, deadline: datetime) -> None:
        await self.sleep((deadline - self.clock()).total_seconds())

    async def start(self) -> None:
        """Start the loop; its first pass is the catch-up after downtime."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="reminders")

    async def stop(self) -> None:
        """Stop the loop; an occurrence being sent is resumed by the next start (its lease runs out)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
