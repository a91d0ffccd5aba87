"""The one source of "now".

Every module that needs the current time receives a :data:`Clock` (a callable
returning an aware UTC datetime) from the container; tests pass a
:class:`ManualClock` and move it, so no test depends on today's date.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

Clock = Callable[[], datetime]
# Waiting "so many seconds" of that clock: asyncio.sleep for the real one, ManualClock.sleep in tests.
Sleep = Callable[[float], Awaitable[None]]


def system_clock() -> datetime:
    """The real time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Pace:
    """Seconds for spacing things out (rate budgets, edit intervals), and how to wait them.

    The real one is ``time.monotonic`` with ``asyncio.sleep``; :meth:`ManualClock.pace`
    gives one that only moves when a test moves the clock.
    """

    now: Callable[[], float] = field(default=time.monotonic)
    sleep: Sleep = field(default=asyncio.sleep)

    async def within(self, awaitable: Awaitable[T], seconds: float) -> T:
        """``awaitable``'s result, or :class:`TimeoutError` (and it cancelled) when ``seconds`` pass first."""
        work = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.sleep(max(0.0, seconds)))
        try:
            await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            timer.cancel()
        if not work.done():
            work.cancel()
            with suppress(asyncio.CancelledError):
                await work
            if work.cancelled():
                raise TimeoutError
        return work.result()


class ManualClock:
    """A clock that only moves when told to (tests, benchmarks, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def __call__(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (aware)."""
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = moment.astimezone(UTC)
        self._wake()

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` (or ``timedelta(**kwargs)``) and return the new time."""
        self._now += delta if delta is not None else timedelta(**kwargs)
        self._wake()
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has been moved ``seconds`` past now (a `Sleep` that tests drive)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), waiter))
        try:
            await waiter
        finally:
            self._sleepers = [(due, w) for due, w in self._sleepers if w is not waiter]

    def pace(self) -> Pace:
        """This clock as seconds to space things out by (its ``sleep`` waits for it to be moved)."""
        return Pace(lambda: self._now.timestamp(), self.sleep)

    def next_wake(self) -> datetime | None:
        """When the earliest `sleep` still waiting is due (None: nobody sleeps)."""
        return min((due for due, waiter in self._sleepers if not waiter.done()), default=None)

    @property
    def sleepers(self) -> int:
        """How many `sleep` calls wait for the clock to move (tests await this instead of wall-clock time)."""
        return sum(1 for _, waiter in self._sleepers if not waiter.done())

    def _wake(self) -> None:
        for due, waiter in self._sleepers:
            if due <= self._now and not waiter.done():
                waiter.set_result(None)
