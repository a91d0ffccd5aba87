"""Conversation locks across processes when many turns start at once (real PostgreSQL).

A process keeps its advisory locks in one shared session.  The locks asked for while a
statement is on its way go out together in the next one, so 60 turns starting at once
cost a few statements instead of 60 in a row; each lock is still held against another
process until its turn gives it back.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import event

from core.locks import AdvisoryLocks

pytestmark = pytest.mark.postgres

TURNS = 60


def count_statements(locks: AdvisoryLocks) -> list[str]:
    sent: list[str] = []
    event.listen(locks.engine.sync_engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


async def test_sixty_turns_starting_at_once_take_their_locks_in_a_few_statements_and_hold_them(
    postgres_url: str,
) -> None:
    here, elsewhere = AdvisoryLocks(postgres_url), AdvisoryLocks(postgres_url)
    holding, done = asyncio.Semaphore(0), asyncio.Event()

    async def turn(key: int) -> None:
        async with here.hold(key):
            holding.release()
            await done.wait()

    try:
        sent = count_statements(here)
        turns = [asyncio.create_task(turn(1000 + n)) for n in range(TURNS)]
        for _ in range(TURNS):
            await holding.acquire()
        taken = len(sent)
        assert taken <= 5, f"{taken} statements to take {TURNS} locks"
        for n in range(TURNS):  # another process finds every one of them held
            async with elsewhere.try_hold(1000 + n) as got:
                assert not got
        done.set()  # the turns end together
        await asyncio.gather(*turns)
        assert len(sent) - taken <= 5, "given back together as well"
        for n in range(TURNS):
            async with elsewhere.try_hold(1000 + n) as got:
                assert got, f"lock {1000 + n} was not given back"
    finally:
        await here.dispose()
        await elsewhere.dispose()


async def test_a_lock_held_elsewhere_is_waited_for_while_the_others_of_the_batch_are_taken(postgres_url: str) -> None:
    here, elsewhere = AdvisoryLocks(postgres_url, poll=0.01), AdvisoryLocks(postgres_url)
    try:
        seven = here.hold(7)  # kept: a dropped context manager would give the lock back when collected
        async with elsewhere.hold(7):
            waiting = asyncio.create_task(seven.__aenter__())
            async with AsyncExitStack() as turns:
                await asyncio.gather(*(turns.enter_async_context(here.hold(100 + n)) for n in range(10)))
                assert not waiting.done(), "lock 7 is held by the other process"
        await asyncio.wait_for(waiting, 10)  # taken once the other process gave it back
        async with elsewhere.try_hold(7) as got:
            assert not got
        await seven.__aexit__(None, None, None)
    finally:
        await here.dispose()
        await elsewhere.dispose()
