"""Keeping a held day's lease while its work runs, and stopping that work when the lease is lost.

The lease (core/daily/claim.py, core/db/claims.py) is short so that a crashed process's day is taken
over within a minute; a live process keeps it by renewing every ``every`` seconds
while a step runs (a long model call, a render, an upload). When a renewal finds
the day taken over (this process stalled past its lease), the work is cancelled
and :class:`LeaseLost` raised: whatever it would still send is now the new
holder's, which finds the parts already posted through their delivery records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from core.db.claims import LeaseLost

log = logging.getLogger(__name__)
T = TypeVar("T")


async def while_renewing(work: Coroutine[Any, Any, T], *, renew: Callable[[], Awaitable[bool]], every: float) -> T:
    """Run `work`, calling `renew` every `every` seconds meanwhile; raises LeaseLost when a renewal is refused.

    A renewal that fails (the database is away) is logged and tried at the next beat: the
    lease may run out meanwhile, and then the next renewal is refused.
    """
    task = asyncio.ensure_future(work)
    lost = False

    async def beat() -> None:
        nonlocal lost
        while not task.done():
            await asyncio.sleep(every)
            try:
                held = await renew()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                log.warning("daily log: could not renew the lease: %s: %s", type(exc).__name__, exc)
                continue
            if not held:
                lost = True
                task.cancel()
                return

    beater = asyncio.create_task(beat(), name="daily-log-heartbeat")
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if lost and (current is None or current.cancelling() == 0):
            raise LeaseLost("the lease was taken over while working") from None
        raise
    finally:
        beater.cancel()
