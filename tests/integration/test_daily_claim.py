"""The daily log's exactly-once claim, on SQLite and PostgreSQL: one winner, resumable after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from core.clock import ManualClock
from core.daily.claim import DailyLogRepository
from core.db.database import Database
from core.db.models import User

DAY = date(2026, 11, 23)
START = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
LEASE = timedelta(minutes=10)


async def _user(database: Database, name: str = "Alice") -> int:
    async with database.session() as session, session.begin():
        user = User(email=f"{name.lower()}@example.org", display_name=name, settings={}, created_at=START)
        session.add(user)
        await session.flush()
        return user.id


@pytest.fixture
async def processes(database: Database) -> AsyncIterator[list[Database]]:
    """Four more connections to the same database, each with its own engine, like separate processes."""
    others = [Database(database.url) for _ in range(4)]
    yield others
    for other in others:
        await other.dispose()


async def test_of_concurrent_claims_of_one_day_exactly_one_wins(database: Database, processes: list[Database]) -> None:
    user_id = await _user(database)
    repos = [DailyLogRepository(db, worker=f"proc-{n}", lease=LEASE) for n, db in enumerate([database, *processes])]

    results = await asyncio.gather(*(repo.claim(user_id, DAY, START) for repo in repos))

    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    row = await repos[0].get(user_id, DAY)
    assert row is not None
    assert (row.state, row.attempts, row.claimed_by) == ("claimed", 1, winners[0].claimed_by)
    # Nobody gets it while the winner's lease runs, by claim or by take-over.
    later = START + LEASE - timedelta(seconds=1)
    assert await asyncio.gather(*(repo.acquire(user_id, DAY, later) for repo in repos)) == [None] * len(repos)


async def test_each_user_and_day_is_claimed_on_its_own(database: Database) -> None:
    alice, bob = await _user(database, "Alice"), await _user(database, "Bob")
    repo = DailyLogRepository(database, worker="proc-a", lease=LEASE)

    claimed = [await repo.claim(u, d, START) for u in (alice, bob) for d in (DAY, DAY + timedelta(days=1))]

    assert all(c is not None for c in claimed)
    assert len({c.id for c in claimed if c}) == 4


async def test_a_crashed_run_is_resumed_from_its_last_step_and_the_stalled_worker_is_fenced_off(
    database: Database, processes: list[Database]
) -> None:
    user_id = await _user(database)
    clock = ManualClock(START)
    first = DailyLogRepository(database, worker="proc-1", lease=LEASE)
    second = DailyLogRepository(processes[0], worker="proc-2", lease=LEASE)

    held = await first.acquire(user_id, DAY, clock())
    assert held is not None
    assert await first.advance(held.id, "summarised", attempt=held.attempts, now=clock.advance(minutes=1),
                               summary="Talked about the boat.")  # fmt: skip
    # proc-1 dies here. Within the lease (renewed by the step) nobody takes over...
    assert await second.acquire(user_id, DAY, clock.advance(minutes=9)) is None

    # ...once it has run out, proc-2 resumes after the summary instead of writing it again.
    resumed = await second.acquire(user_id, DAY, clock.advance(minutes=2))
    assert resumed is not None
    assert (resumed.state, resumed.summary, resumed.attempts, resumed.claimed_by) == (
        "summarised", "Talked about the boat.", 2, "proc-2")  # fmt: skip
    assert resumed.done("summarised") and not resumed.done("rendered")

    # proc-1 was only stalled: its late step is refused and changes nothing.
    assert not await first.advance(held.id, "rendered", attempt=held.attempts, now=clock())
    assert not await first.advance(held.id, "uploaded", attempt=held.attempts, now=clock(), drive_file_id="dup")

    for state, fields in [("rendered", {}), ("uploaded", {"drive_file_id": "f1", "drive_link": "https://d/f1"}),
                          ("posted", {})]:  # fmt: skip
        assert await second.advance(resumed.id, state, attempt=resumed.attempts, now=clock.advance(seconds=5), **fields)

    done = await first.get(user_id, DAY)
    assert done is not None
    assert (done.state, done.drive_file_id, done.drive_link) == ("posted", "f1", "https://d/f1")
    assert done.finished
    # A posted day is never taken again, however late.
    assert await first.acquire(user_id, DAY, clock.advance(days=2)) is None


async def test_of_concurrent_take_overs_of_a_stale_claim_exactly_one_wins(
    database: Database, processes: list[Database]
) -> None:
    user_id = await _user(database)
    crashed = DailyLogRepository(database, worker="crashed", lease=LEASE)
    assert await crashed.claim(user_id, DAY, START) is not None
    repos = [DailyLogRepository(db, worker=f"proc-{n}", lease=LEASE) for n, db in enumerate(processes)]

    late = START + LEASE + timedelta(seconds=1)
    results = await asyncio.gather(*(repo.take_over(user_id, DAY, late) for repo in repos))

    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].attempts == 2
    row = await crashed.get(user_id, DAY)
    assert row is not None and row.claimed_by == winners[0].claimed_by


async def test_a_released_failure_is_retried_at_once_until_the_attempts_run_out(database: Database) -> None:
    user_id = await _user(database)
    repo = DailyLogRepository(database, worker="proc-1", lease=LEASE)
    now = START

    for attempt in (1, 2, 3):
        held = await repo.acquire(user_id, DAY, now, max_attempts=3)
        assert held is not None and held.attempts == attempt
        assert await repo.release(held.id, attempt=held.attempts, now=now, error=f"Drive said 503 ({attempt})")
        # A released attempt cannot write steps any more.
        assert not await repo.advance(held.id, "summarised", attempt=held.attempts, now=now, summary="late")
        now += timedelta(seconds=1)
        assert [r.id for r in await repo.resumable(now, since=DAY, max_attempts=3)] == (
            [held.id] if attempt < 3 else []
        )

    assert await repo.acquire(user_id, DAY, now, max_attempts=3) is None
    row = await repo.get(user_id, DAY)
    assert row is not None
    assert (row.state, row.summary, row.last_error) == ("claimed", None, "Drive said 503 (3)")


async def test_steps_only_move_forward(database: Database) -> None:
    user_id = await _user(database)
    repo = DailyLogRepository(database, worker="proc-1", lease=LEASE)
    held = await repo.claim(user_id, DAY, START)
    assert held is not None

    assert await repo.advance(held.id, "rendered", attempt=1, now=START, summary="s")
    assert not await repo.advance(held.id, "summarised", attempt=1, now=START, summary="again")
    assert not await repo.advance(held.id, "rendered", attempt=1, now=START)
    with pytest.raises(ValueError, match="unknown daily-log state"):
        await repo.advance(held.id, "claimed", attempt=1, now=START)
    with pytest.raises(TypeError, match="no field 'attempts'"):
        await repo.advance(held.id, "uploaded", attempt=1, now=START, attempts=9)
    assert await repo.advance(held.id, "failed", attempt=1, now=START, last_error="gave up")
    row = await repo.get(user_id, DAY)
    assert row is not None and (row.state, row.summary, row.finished) == ("failed", "s", True)
