"""The daily-log trigger: APScheduler looks at start and then on its interval; stopping ends a tick in progress."""

from __future__ import annotations

import asyncio

from bot.scheduler import DailyScheduler


async def test_it_looks_at_start_and_again_on_each_interval_and_survives_a_failed_tick() -> None:
    looked = asyncio.Queue[int]()
    calls = 0

    async def run_due() -> None:
        nonlocal calls
        calls += 1
        await looked.put(calls)
        if calls == 1:
            raise RuntimeError("database unreachable for a moment")

    scheduler = DailyScheduler(run_due, interval=0.05)
    await scheduler.start()
    try:
        assert await asyncio.wait_for(looked.get(), 10) == 1  # at start: the catch-up
        assert await asyncio.wait_for(looked.get(), 10) == 2  # the failed tick did not stop the trigger
    finally:
        await scheduler.stop()
    seen = calls
    await asyncio.sleep(0.2)
    assert calls == seen  # stopped means no more looks


async def test_a_slow_tick_is_never_run_twice_at_once_and_stop_cancels_it() -> None:
    running = 0
    most = 0
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def run_due() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started.set()
        try:
            await asyncio.Event().wait()  # a render that takes longer than many intervals
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finally:
            running -= 1

    scheduler = DailyScheduler(run_due, interval=0.02)
    await scheduler.start()
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.2)  # several intervals pass while the first tick works
    await scheduler.stop()
    assert most == 1 and cancelled.is_set() and running == 0
