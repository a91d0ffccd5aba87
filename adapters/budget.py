"""Rate budgets: grant platform calls so that no published limit is ever crossed.

Every call first asks the shared :class:`RateBudget` for a slot in each
:class:`adapters.rate_window.SlidingWindow` it counts against.  Waiting calls
are granted by priority, then in arrival order, so a final edit is never stuck
behind routine updates and routine updates are shared fairly between
conversations.  Each streaming answer may *reserve* one slot for its final
edit: routine updates leave reserved slots alone, which is what lets the final
text appear at once.  A refusal the platform sends anyway holds the windows
back and teaches them a stricter limit (see :mod:`adapters.rate_window`).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.rate_window import Priority, SlidingWindow
from core.clock import Pace


@dataclass(eq=False)
class _Waiter:
    priority: Priority
    seq: int
    windows: Sequence[SlidingWindow]
    reservation: Reservation | None
    future: asyncio.Future[None]
    tracked: bool = False


@dataclass(eq=False)
class Reservation:
    """A final-edit slot held in some windows; give it back with :meth:`RateBudget.release`."""

    windows: tuple[SlidingWindow, ...]
    active: bool = True
    held: set[int] = field(default_factory=set)


class RateBudget:
    """Grants calls against sliding windows, most urgent first, then first come first served."""

    def __init__(self, pace: Pace | None = None) -> None:
        """``pace``: the seconds the windows count in and how to wait them (a manual one in tests)."""
        self.pace = pace or Pace()
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._timer_due = math.inf
        self.throttled = 0  # calls that had to wait
        self._deferred: set[asyncio.Task[None]] = set()

    async def acquire(
        self,
        windows: Sequence[SlidingWindow],
        priority: Priority,
        *,
        reservation: Reservation | None = None,
        tracked: bool = False,
    ) -> None:
        """Wait until every window admits the call, then count it. Cancel-safe.

        ``tracked``: the caller reports the call's answer with :meth:`settled` (windows
        probing their burst wait for it before granting the next).
        """
        if not self._waiters and self._admits(windows, priority, reservation, self.pace.now()):
            self._take(windows, priority, reservation, tracked)
            return
        self.throttled += 1
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(priority, next(self._seq), windows, reservation, future, tracked)
        self._waiters.append(waiter)
        self._waiters.sort(key=lambda w: (w.priority, w.seq))
        self._pump()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled() and tracked:
                for window in windows:  # granted just as we were cancelled: the slot stays spent, nothing went
                    window.settled()
            self._pump()
            raise

    def try_acquire(self, windows: Sequence[SlidingWindow], priority: Priority, *, tracked: bool = False) -> bool:
        """Take a slot only if one is free right now and nobody more urgent is waiting (``tracked``: see acquire)."""
        now = self.pace.now()
        blocked = {id(w) for waiter in self._waiters for w in waiter.windows}
        if any(id(w) in blocked for w in windows) or not self._admits(windows, priority, None, now):
            return False
        self._take(windows, priority, None, tracked)
        return True

    def reserve(self, windows: Sequence[SlidingWindow]) -> Reservation | None:
        """Hold a final-edit slot in every reservable window, or in none at all."""
        windows = [window for window in windows if window.reservable]
        taken: list[SlidingWindow] = []
        for window in windows:
            if not window.try_reserve():
                for back in taken:
                    back.release()
                return None
            taken.append(window)
        return Reservation(tuple(windows), held={id(w) for w in windows})

    def release(self, reservation: Reservation | None) -> None:
        """Give a reservation back (after the final edit, or when the answer is abandoned)."""
        if reservation is None or not reservation.active:
            return
        reservation.active = False
        for window in reservation.windows:
            if id(window) in reservation.held:
                window.release()
        reservation.held.clear()
        self._pump()

    def defer(self, call: Coroutine[Any, Any, None]) -> None:
        """Run a low-priority platform call whenever the budget allows, outliving the caller."""
        task = asyncio.get_running_loop().create_task(call)
        self._deferred.add(task)
        task.add_done_callback(self._deferred.discard)

    def penalize(self, windows: Sequence[SlidingWindow], retry_after: float, *, learn: bool = True) -> None:
        """A call was refused with retry_after anyway: hold back those windows and learn from it.

        ``learn=False`` only waits (for a refusal that says nothing about these
        windows' limits, such as a 429 another process caused).
        """
        now = self.pace.now()
        for window in windows:
            window.block_for(retry_after, now)
            if learn:
                window.refused(now)
        self._pump()

    def eta(
        self, windows: Sequence[SlidingWindow], priority: Priority, *, reservation: Reservation | None = None
    ) -> float:
        """About how many seconds a call would wait for its slot now: the calls ahead of it, the windows' state.

        Lets a caller plan (say, post a final text anew instead of waiting for an edit).
        """
        now = self.pace.now()
        held = reservation.held if reservation is not None and reservation.active else set()
        wait = 0.0
        for window in windows:
            ahead = sum(1 for w in self._waiters if w.priority <= priority and window in w.windows)
            holds = priority == Priority.FINAL and id(window) in held
            wait = max(wait, window.wait_estimate(now, ahead, holds_reservation=holds))
        return wait

    def settled(self, windows: Sequence[SlidingWindow]) -> None:
        """A tracked call in ``windows`` has its answer: windows probing their burst may grant the next."""
        for window in windows:
            window.settled()
        self._pump()

    def busy(self, windows: Sequence[SlidingWindow]) -> bool:
        """Whether a first-text call in ``windows`` would have to wait (a window is full, or others wait)."""
        now = self.pace.now()
        waiting = {id(w) for waiter in self._waiters for w in waiter.windows}
        return any(id(w) in waiting or w.busy(now) for w in windows)

    # -- internals -----------------------------------------------------------------

    def _admits(
        self, windows: Sequence[SlidingWindow], priority: Priority, reservation: Reservation | None, now: float
    ) -> bool:
        held = reservation.held if reservation is not None and reservation.active else set()
        return all(w.admits(now, priority, holds_reservation=id(w) in held) for w in windows)

    def _take(
        self,
        windows: Sequence[SlidingWindow],
        priority: Priority,
        reservation: Reservation | None,
        tracked: bool = False,
    ) -> None:
        now = self.pace.now()
        uses_reservation = priority == Priority.FINAL and reservation is not None and reservation.active
        for window in windows:
            window.take(now, tracked=tracked)
            if uses_reservation and id(window) in reservation.held:  # type: ignore[union-attr]
                # The final edit spends the slot it held.
                window.release()
                reservation.held.discard(id(window))  # type: ignore[union-attr]

    def _pump(self) -> None:
        if not self._waiters:
            self._stop_timer()
            return
        now = self.pace.now()
        # Windows that refused an earlier (more urgent, or older) waiter: later waiters
        # may not overtake it there, but windows it was not refused by stay open to them.
        blocked: set[int] = set()
        refusing: list[SlidingWindow] = []
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
                continue
            held = waiter.reservation.held if waiter.reservation is not None and waiter.reservation.active else set()
            refused = [
                w
                for w in waiter.windows
                if id(w) in blocked or not w.admits(now, waiter.priority, holds_reservation=id(w) in held)
            ]
            if not refused:
                self._take(waiter.windows, waiter.priority, waiter.reservation, waiter.tracked)
                self._waiters.remove(waiter)
                waiter.future.set_result(None)
            else:
                blocked |= {id(w) for w in refused}
                refusing.extend(refused)
        wake = min((w.next_change(now) for w in refusing), default=math.inf) if self._waiters else math.inf
        if wake == math.inf:
            self._stop_timer()  # nobody waits, or only a released reservation can help (releasing pumps again)
        elif self._timer is None or self._timer.done() or abs(wake - self._timer_due) > 1e-6:
            self._stop_timer()
            self._timer_due = wake
            self._timer = asyncio.get_running_loop().create_task(self._wake_at(max(0.001, wake - now)))

    async def _wake_at(self, seconds: float) -> None:
        await self.pace.sleep(seconds)
        self._timer = None
        self._timer_due = math.inf
        self._pump()

    def _stop_timer(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None
        self._timer_due = math.inf
