"""A message that arrives while the database cannot be written is held, not lost.

The turn's first steps (the access decision, opening the conversation, storing the
user's message) are retried through an outage (`core.db.outage`) while the turn keeps
its place in line, so later messages of the conversation wait behind it and are
answered in order once the database is back. The user is told once, as the turn's
status line, that saving is delayed. Held messages are bounded: past ``limit`` at once,
a new one is refused with a sentence asking to send it again, and a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from core.clock import Sleep
from core.db.outage import Backoff, DatabaseUnavailable, describe, unavailable
from core.types import StatusUpdate, TurnEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

SAVING_DELAYED = "I can't save messages right now; I'll answer as soon as I can, in order."
HELD_LIMIT = 200
# Held for up to half an hour of outage; a restart of the database usually takes seconds.
HOLD_BACKOFF = Backoff(first=0.5, longest=15.0, budget=1800.0)


class TooManyHeld(Exception):
    """More messages are held than the bound allows; this one is refused."""


class HeldMessages:
    """How many turns of this process wait for the database now (shared by all turns)."""

    def __init__(self, *, sleep: Sleep = asyncio.sleep, limit: int = HELD_LIMIT, backoff: Backoff = HOLD_BACKOFF):
        self.sleep = sleep
        self.limit = limit
        self.backoff = backoff
        self.count = 0

    def hold(self) -> Hold:
        """A hold for one turn."""
        return Hold(self)


class Box(Generic[T]):
    """Where `Hold.step` leaves the step's result."""

    value: T


class Hold:
    """One turn's wait for the database; `told` once the user was told that saving is delayed."""

    def __init__(self, held: HeldMessages) -> None:
        self.held = held
        self.told = False
        self._counted = False

    async def step(self, what: str, op: Callable[[], Awaitable[T]], box: Box[T]) -> AsyncIterator[TurnEvent]:
        """Run ``op`` until it gets through, leaving its result in ``box``; yields the one delay notice.

        Raises `TooManyHeld` when the bound is reached, `DatabaseUnavailable` when the
        outage outlasts the hold's budget, and any other error at once.
        """
        waits = self.held.backoff.delays()
        failures = 0
        while True:
            try:
                box.value = await op()
                return
            except Exception as exc:
                if not unavailable(exc):
                    raise
                if not self._counted:
                    if self.held.count >= self.held.limit:
                        log.error("database unavailable and %d messages held already: one refused", self.held.count)
                        raise TooManyHeld from exc
                    self.held.count += 1
                    self._counted = True
                if failures == len(waits):
                    log.error("the database stayed unavailable; gave up holding a message (%s)", describe(exc))
                    raise DatabaseUnavailable(what) from exc
                log.warning("the database is unavailable; %s again in %g s (%s)", what, waits[failures], describe(exc))
                if not self.told:
                    self.told = True
                    yield StatusUpdate(SAVING_DELAYED)
                await self.held.sleep(waits[failures])
                failures += 1

    def release(self) -> None:
        """The turn is past its held steps (or ended): it no longer counts against the bound."""
        if self._counted:
            self.held.count -= 1
            self._counted = False
