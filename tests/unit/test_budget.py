"""The rate budget: limits are never crossed, urgent calls go first, reserved slots stay for final edits."""

from __future__ import annotations

import asyncio
import time

from adapters.budget import RateBudget
from adapters.rate_window import Priority, SlidingWindow
from core.clock import Pace


def max_in_any_window(stamps: list[float], period: float) -> int:
    stamps = sorted(stamps)
    return max((sum(1 for t in stamps if s <= t < s + period) for s in stamps), default=0)


async def test_concurrent_callers_never_exceed_the_window() -> None:
    budget = RateBudget()
    window = SlidingWindow("w", 5, 0.2)
    stamps: list[float] = []

    async def caller() -> None:
        for _ in range(4):
            await budget.acquire([window], Priority.ROUTINE)
            stamps.append(time.monotonic())

    await asyncio.gather(*(caller() for _ in range(5)))

    assert len(stamps) == 20
    assert max_in_any_window(stamps, 0.2 - 0.005) <= 5


async def test_final_edits_overtake_routine_ones() -> None:
    budget = RateBudget()
    window = SlidingWindow("w", 2, 0.15)
    order: list[str] = []
    await budget.acquire([window], Priority.ROUTINE)
    await budget.acquire([window], Priority.ROUTINE)  # the window is now full

    async def call(name: str, priority: Priority) -> None:
        await budget.acquire([window], priority)
        order.append(name)

    routine = asyncio.create_task(call("routine", Priority.ROUTINE))
    await asyncio.sleep(0.01)
    final = asyncio.create_task(call("final", Priority.FINAL))
    await asyncio.gather(routine, final)

    assert order == ["final", "routine"]


async def test_routine_edits_leave_the_reserved_slot_for_the_final_edit() -> None:
    budget = RateBudget()
    window = SlidingWindow("edits", 3, 0.3)
    reservation = budget.reserve([window])
    assert reservation is not None

    assert budget.try_acquire([window], Priority.ROUTINE)
    assert budget.try_acquire([window], Priority.ROUTINE)
    assert not budget.try_acquire([window], Priority.ROUTINE), "the third slot is reserved"

    waits_before = budget.throttled
    await budget.acquire([window], Priority.FINAL, reservation=reservation)
    assert budget.throttled == waits_before, "the final edit was granted without waiting"
    budget.release(reservation)
    assert window.reserved == 0


async def test_reservations_cannot_fill_the_whole_window() -> None:
    budget = RateBudget()
    window = SlidingWindow("edits", 3, 1.0)
    assert budget.reserve([window]) is not None
    assert budget.reserve([window]) is not None
    assert budget.reserve([window]) is None


async def test_a_rate_limit_from_the_server_holds_the_window_back() -> None:
    budget = RateBudget()
    window = SlidingWindow("w", 100, 1.0)
    budget.penalize([window], 0.1)

    started = time.monotonic()
    await budget.acquire([window], Priority.FIRST)

    assert time.monotonic() - started >= 0.09


async def test_background_calls_only_use_an_idle_window() -> None:
    budget = RateBudget()
    window = SlidingWindow("global", 10, 1.0, background_share=0.2)
    assert budget.try_acquire([window], Priority.BACKGROUND)
    assert budget.try_acquire([window], Priority.BACKGROUND)
    assert not budget.try_acquire([window], Priority.BACKGROUND)
    assert budget.try_acquire([window], Priority.FIRST)


async def test_a_cancelled_waiter_gives_way() -> None:
    budget = RateBudget()
    window = SlidingWindow("w", 1, 0.2)
    await budget.acquire([window], Priority.ROUTINE)
    waiting = asyncio.create_task(budget.acquire([window], Priority.ROUTINE))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.sleep(0)

    await asyncio.wait_for(budget.acquire([window], Priority.ROUTINE), 1.0)


async def test_reservations_skip_bot_wide_windows_so_first_edits_are_not_held_back() -> None:
    budget = RateBudget()
    channel_windows = [SlidingWindow(f"edit{n}", 5, 5.0) for n in range(20)]
    bot_wide = SlidingWindow("global", 45, 1.0, reservable=False)
    for n in range(30):
        assert budget.try_acquire([bot_wide], Priority.FIRST), f"call {n}"
    reservations = [budget.reserve([w, bot_wide]) for w in channel_windows]

    assert all(r is not None for r in reservations)
    assert bot_wide.reserved == 0
    granted = sum(budget.try_acquire([w, bot_wide], Priority.FIRST) for w in channel_windows)
    assert granted == 15, "the bot-wide window's free slots all go to first edits"


async def test_a_busy_channel_does_not_hold_up_other_channels() -> None:
    budget = RateBudget()
    bot_wide = SlidingWindow("global", 45, 1.0, reservable=False)
    busy, idle = SlidingWindow("busy", 1, 5.0), SlidingWindow("idle", 1, 5.0)
    await budget.acquire([busy, bot_wide], Priority.ROUTINE)
    stuck = asyncio.create_task(budget.acquire([busy, bot_wide], Priority.FINAL))
    await asyncio.sleep(0.01)

    await asyncio.wait_for(budget.acquire([idle, bot_wide], Priority.ROUTINE), 1.0)

    assert not stuck.done(), "the busy channel's call still waits for its own window"
    stuck.cancel()


async def test_waiting_on_a_reservation_sets_no_busy_timer() -> None:
    budget = RateBudget()
    window = SlidingWindow("edits", 2, 1.0)
    reservation = budget.reserve([window])
    pumps = 0
    original = budget._pump

    def counting_pump() -> None:
        nonlocal pumps
        pumps += 1
        original()

    budget._pump = counting_pump  # type: ignore[method-assign]
    waiting = asyncio.create_task(budget.acquire([window], Priority.BACKGROUND))
    await asyncio.sleep(0.2)
    assert pumps <= 2, "a waiter that only a released reservation can serve must not poll"

    budget.release(reservation)
    await asyncio.wait_for(waiting, 1.0)


class StricterPlatform:
    """A platform that allows fewer calls at once than documented: a token bucket of ``burst`` and ``rate``/s."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens = float(burst)
        self.last = time.monotonic()
        self.refused: list[int] = []  # the call numbers it refused
        self.calls = 0

    def call(self) -> float | None:
        """Count a call; None when accepted, else the retry_after it answers with."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.calls += 1
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        self.refused.append(self.calls)
        return (1 - self.tokens) / self.rate


async def test_the_budget_learns_a_stricter_limit_from_429s_and_stops_getting_them() -> None:
    budget = RateBudget()
    window = SlidingWindow("documented", 60, 1.0)  # documented: 60 a second, all at once if need be
    platform = StricterPlatform(burst=3, rate=30.0)  # the truth: 3 at once, then 30 a second
    done = 0

    async def caller() -> None:
        nonlocal done
        for _ in range(8):
            while True:
                await budget.acquire([window], Priority.ROUTINE)
                retry_after = platform.call()
                if retry_after is None:
                    break
                budget.penalize([window], retry_after)
            done += 1

    await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(10))), 10)

    assert done == 80
    assert len(platform.refused) <= 8, "a few refusals teach it; it does not keep hammering"
    assert all(n <= platform.calls // 2 for n in platform.refused), "the second half goes through without a 429"
    assert window.burst < 60 and window.refusals == len(platform.refused)


async def test_a_learned_burst_is_what_went_through_and_it_is_relaxed_only_slowly() -> None:
    now = [0.0]
    budget = RateBudget(Pace(now=lambda: now[0]))
    window = SlidingWindow("w", 10, 1.0)
    for _ in range(4):
        assert budget.try_acquire([window], Priority.FIRST)
    budget.penalize([window], 0.1)  # the fourth call was refused: three went through back to back
    assert window.burst == 3

    now[0] += 5  # calm periods: back to the learned burst, never over it (it would be refused again)
    assert window.tokens(now[0]) == 3
    now[0] += 100  # many calm periods: the ceiling itself rises, a step every ten, to the documented limit
    assert window.tokens(now[0]) == 10
    assert [budget.try_acquire([window], Priority.FIRST) for _ in range(11)].count(True) == 10


async def test_a_refusal_within_the_learned_burst_lowers_the_rate() -> None:
    now = [0.0]
    budget = RateBudget(Pace(now=lambda: now[0]))
    window = SlidingWindow("w", 10, 1.0)
    assert budget.try_acquire([window], Priority.FIRST)
    budget.penalize([window], 0.1)  # refused at once: a burst of one
    assert window.burst == 1 and window.rate == 10.0
    now[0] += 0.2
    assert budget.try_acquire([window], Priority.FIRST)
    budget.penalize([window], 0.1)  # refused again within that burst: the sustained rate was too high
    assert window.burst == 1 and window.rate == 7.5
