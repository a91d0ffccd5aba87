"""When a streaming answer's message changes: the first text, routine edits, the final edit's patience.

All waits are on a :class:`core.clock.Pace` (the rate budget's own), so the
renderer keeps the same time as the windows it spends, and tests move a
manual clock instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import suppress

from adapters.budget import RateBudget
from adapters.rate_window import Priority, SlidingWindow
from core.clock import Pace

# How long the final edit may wait for the platform's budget before the rest of the
# answer is posted as new messages instead (continuing from where the visible text
# stops): longer when the answer holds a reserved slot, short when it could not get one.
FINAL_EDIT_WAIT = 4.0
FINAL_EDIT_WAIT_OVERLOADED = 2.0
# When the platform's budget is crowded, a placeholder would cost a post now and an
# edit for the first text later: the renderer waits this long for the first text and
# posts it as the message itself (a placeholder still comes when the model is slower).
FIRST_TEXT_WAIT = 1.5


class EditSchedule:
    """Spaces one answer's routine edits by the platform's interval and times its other waits."""

    def __init__(self, pace: Pace, interval: Callable[[], float]) -> None:
        self.pace = pace
        self.interval = interval  # seconds between two routine edits, as the platform says now
        self._last_routine: float | None = None

    def now(self) -> float:
        return self.pace.now()

    def deadline(self, seconds: float) -> float:
        """The moment ``seconds`` from now, on this schedule's clock."""
        return self.pace.now() + seconds

    def final_deadline(self, *, reserved: bool) -> tuple[float, float]:
        """How long the final edit may wait for its slot, and until when."""
        wait = FINAL_EDIT_WAIT if reserved else FINAL_EDIT_WAIT_OVERLOADED
        return wait, self.deadline(wait)

    @staticmethod
    def first_text_wait(*, crowded: bool, platform_wait: float) -> float:
        """How long to wait for the first text before posting a placeholder."""
        return FIRST_TEXT_WAIT if crowded else platform_wait

    async def routine_turn(self, cut_short: Sequence[asyncio.Event]) -> None:
        """Wait until a routine edit may go (the interval since the last one), unless an event is set first."""
        if self._last_routine is None:
            return
        wait = self._last_routine + self.interval() - self.pace.now()
        if wait > 0:
            await self.wait_any(cut_short, wait)

    def routine_done(self) -> None:
        """An update went out: the next routine one waits a full interval from now."""
        self._last_routine = self.pace.now()

    async def wait_any(self, events: Sequence[asyncio.Event], seconds: float) -> None:
        """Wait ``seconds`` unless one of ``events`` is set first."""
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        timer = asyncio.ensure_future(self.pace.sleep(max(0.0, seconds)))
        try:
            await asyncio.wait([*waiters, timer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (*waiters, timer):
                waiter.cancel()

    async def until(self, done: Callable[[], bool], changed: asyncio.Event, seconds: float) -> None:
        """Wait at most ``seconds`` for ``done()``, looking again each time ``changed`` is set."""
        deadline = self.deadline(seconds)
        while not done() and self.pace.now() < deadline:
            changed.clear()
            await self.wait_any((changed,), deadline - self.pace.now())


async def slot_unless(
    budget: RateBudget, windows: Sequence[SlidingWindow], something: Callable[[], bool], changed: asyncio.Event
) -> bool:
    """Wait for a placeholder's slot; False (and no slot taken) when there is ``something()`` to show first."""
    grant = asyncio.ensure_future(budget.acquire(windows, Priority.FEEDBACK))
    while not grant.done():
        if something():
            grant.cancel()
            with suppress(asyncio.CancelledError):
                await grant
            return not grant.cancelled()  # granted just before the cancel: the slot is ours
        changed.clear()
        waiter = asyncio.ensure_future(changed.wait())
        try:
            await asyncio.wait({grant, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            grant.cancel()
            raise
        finally:
            waiter.cancel()
    return True
