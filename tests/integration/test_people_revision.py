"""The shared ``people`` revision, read by many messages at once (real database).

Messages arriving together share one read, but never a read that began before they asked:
a change committed before a message arrived is always seen by that message's decision.
"""

from __future__ import annotations

import asyncio

from core.access import AccessPolicy
from core.db.database import Database
from core.people import People


async def test_callers_arriving_during_a_read_share_the_next_one_and_see_a_change_made_before_they_asked(
    database: Database,
) -> None:
    people = People(database, accounts=AccessPolicy(("test:*",)))
    real_read = people.repository.revision
    reads: list[int] = []
    first_read = asyncio.Event()
    release = asyncio.Event()

    async def held_read(**kwargs: object) -> int:
        value = await real_read()
        reads.append(value)
        first_read.set()
        if len(reads) == 1:
            await release.wait()  # the first read has its answer but is still in flight
        return value

    people.repository.revision = held_read  # type: ignore[method-assign]
    first = asyncio.create_task(people.revision())
    await first_read.wait()
    await people.repository.bump()  # another process links an account while that read is in flight
    later = [asyncio.create_task(people.revision()) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert len(reads) == 1, "nobody reads again while the first read is in flight"
    release.set()

    assert await first == 0
    assert await asyncio.gather(*later) == [1] * 20, "the twenty see the change, through one more read"
    assert reads == [0, 1]


async def test_a_failed_read_fails_those_who_joined_it_and_the_next_caller_reads_again(database: Database) -> None:
    people = People(database, accounts=AccessPolicy(("test:*",)))
    real_read = people.repository.revision
    failing = True
    started = asyncio.Event()
    release = asyncio.Event()

    async def flaky_read(**kwargs: object) -> int:
        started.set()
        await release.wait()
        if failing:
            raise OSError("connection refused")
        return await real_read()

    people.repository.revision = flaky_read  # type: ignore[method-assign]
    first = asyncio.create_task(people.revision())
    await started.wait()
    joined = asyncio.create_task(people.revision())  # queued behind the first
    release.set()
    results = await asyncio.gather(first, joined, return_exceptions=True)
    assert isinstance(results[0], OSError)
    failing = False
    assert await people.revision() == 0
