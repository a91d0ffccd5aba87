"""BackgroundTasks at stop: waiting, the timeout, a wait cut short, and the count in the log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.tasks import BackgroundTasks

CANCELLING = "cancelling {} background tasks still running at stop"


def cancelling_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("cancelling")]


async def test_drain_waits_for_work_that_finishes_in_time(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()
    done: list[str] = []

    async def index() -> None:
        await asyncio.sleep(0.05)
        done.append("indexed")

    tasks.spawn("index", index)
    await tasks.drain(timeout=5)

    assert done == ["indexed"] and tasks.running == 0
    assert cancelling_lines(caplog) == []
    assert tasks.spawn("late", index) is None, "no new work once draining"


async def test_drain_after_its_timeout_cancels_and_counts_what_was_left(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    slow = [tasks.spawn(f"extract-{n}", forever) for n in range(2)]
    tasks.spawn("quick", lambda: asyncio.sleep(0))
    await started.wait()
    with caplog.at_level(logging.WARNING, logger="core.tasks"):
        await tasks.drain(timeout=0.05)

    assert all(task is not None and task.cancelled() for task in slow)
    assert tasks.running == 0
    assert cancelling_lines(caplog) == [CANCELLING.format(2)], "counted before they were cancelled"


async def test_a_drain_cut_short_cancels_what_is_left_at_once(caplog: pytest.LogCaptureFixture) -> None:
    tasks = BackgroundTasks()
    work = tasks.spawn("extract", lambda: asyncio.sleep(3600))
    drain = asyncio.create_task(tasks.drain(timeout=30))
    await asyncio.sleep(0.05)

    with caplog.at_level(logging.WARNING, logger="core.tasks"):
        drain.cancel()  # the terminal's second Ctrl-C
        await asyncio.wait({drain}, timeout=1)

    assert drain.cancelled(), "the drain ends at once, as cancelled"
    assert work is not None and work.cancelled() and tasks.running == 0
    assert cancelling_lines(caplog) == [CANCELLING.format(1)]


async def test_wait_idle_with_a_timeout_says_so_and_cancels_nothing() -> None:
    tasks = BackgroundTasks()
    release = asyncio.Event()
    work = tasks.spawn("extract", release.wait)

    assert await tasks.wait_idle(timeout=0.05) is False
    waiting = asyncio.create_task(tasks.wait_idle())
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.wait({waiting})
    assert work is not None and not work.done(), "a cancelled wait leaves the work running"

    release.set()
    assert await tasks.wait_idle(timeout=1) is True and work.done() and not work.cancelled()
