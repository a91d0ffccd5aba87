"""The daily log's lease while a step runs: a heartbeat keeps a working holder's day, and a holder that
lost its day to a successor (its renewals failed past the lease) stops and sends nothing.

Both databases; the renewals' times come from the injected clock, the heartbeat's pace is the job's setting.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.clock import ManualClock
from core.daily.job import DayOutcome
from core.db.database import Database
from core.llm import OpenAIModel
from tests.daily_helpers import People, Process, RecordingMessenger, daily_process
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.integration.daily.test_daily_log import DAY, SUMMARY, paris

BEAT = 0.01  # seconds between renewals in these tests (the bot's is 15 s, within a 45 s lease)


async def _alice(database: Database) -> int:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    return alice


def _rendering_until(process: Process, release: asyncio.Event) -> asyncio.Event:
    """Make the process's render wait for `release`; returns the event set once it is rendering."""
    rendering = asyncio.Event()
    real = process.job.render

    async def slow(doc: object) -> bytes:
        rendering.set()
        await release.wait()
        return await real(doc)  # type: ignore[arg-type]

    process.job.render = slow  # type: ignore[assignment]
    return rendering


async def test_a_long_step_keeps_its_day_because_the_lease_is_renewed_while_it_runs(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    alice = await _alice(database)
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    openai_fake.default = lambda _request: Reply(SUMMARY)
    first = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "a", worker="a")
    first.job.heartbeat = BEAT
    release = asyncio.Event()
    rendering = _rendering_until(first, release)
    renewed_later = asyncio.Event()
    renew = first.repo.renew
    long_after = paris(22, 36)

    async def watched_renew(log_id: int, *, attempt: int, now: object) -> bool:
        held = await renew(log_id, attempt=attempt, now=now)  # type: ignore[arg-type]
        if held and now == long_after:
            renewed_later.set()
        return held

    first.repo.renew = watched_renew  # type: ignore[method-assign]
    working = asyncio.create_task(first.runner.run_due())
    await rendering.wait()
    clock.set(long_after)  # the render takes five minutes, far past the 45 s lease
    await renewed_later.wait()

    second = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "b", worker="b")
    assert (await second.runner.run_due()).get((alice, DAY)) in (None, DayOutcome.BUSY)
    release.set()
    assert (await working)[(alice, DAY)] is DayOutcome.DONE
    assert len(slack.posts) == 1 and len(openai_fake.chat_requests()) == 1


async def test_a_holder_that_lost_its_day_to_a_successor_stops_and_sends_nothing(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    alice = await _alice(database)
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    openai_fake.default = lambda _request: Reply(SUMMARY)
    stalled = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "a", worker="a")
    stalled.job.heartbeat = BEAT
    rendering = _rendering_until(stalled, asyncio.Event())  # its render never ends by itself
    renew = stalled.repo.renew
    failing = asyncio.Event()
    refused = asyncio.Event()

    async def unreachable_then_refused(log_id: int, *, attempt: int, now: object) -> bool:
        if not refused.is_set():
            failing.set()
            raise OSError("the database cannot be reached from this process")
        return await renew(log_id, attempt=attempt, now=now)  # type: ignore[arg-type]

    stalled.repo.renew = unreachable_then_refused  # type: ignore[method-assign]
    working = asyncio.create_task(stalled.runner.run_due())
    await rendering.wait()
    await failing.wait()

    clock.advance(seconds=60)  # its renewals failed for a minute: the lease ran out
    successor = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "b", worker="b")
    assert (await successor.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    refused.set()  # the database answers again: the next renewal is refused, and the work stops
    assert (await working)[(alice, DAY)] is DayOutcome.BUSY
    assert len(slack.posts) == 1
    assert [f.filename for f in slack.posts[0].files] == [f"{DAY.isoformat()} CaptainsLog.pdf"]
