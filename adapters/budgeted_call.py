"""Platform calls within the rate budget, with one retry policy for all of them.

Every call to a platform (a post, an edit, an upload, a stream call, opening a
DM) goes the same way: take a slot in the windows it counts against, make the
call, and when the platform refuses it with a rate limit anyway, hold those
windows back (the budget learns from it, see :mod:`adapters.rate_window`) and
try again.  A refusal with a rate limit created nothing, so it is tried again
more often than a call that failed otherwise (whose effect may be unknown); a
permanent refusal, or one saying the message is gone, is never repeated.

How often is :class:`RetryPolicy`'s to say: :data:`RETRY` for what the user
waits for, :data:`SENT_ONCE` for calls that must not be repeated blindly after
a network failure (the caller looks first), :data:`ONCE` for a call with
another way out when refused, :data:`PATIENT` for cosmetic calls in the
background that should land eventually.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from adapters.budget import RateBudget, Reservation
from adapters.rate_window import Priority, SlidingWindow
from adapters.surface import DeliveryError, RateLimited

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times a call is tried, and how long to wait after a failure that was not a rate limit."""

    rate_limited: int = 10  # refusals with a rate limit before giving up (each created nothing)
    failures: int = 3  # other failed attempts (network, the platform's own trouble) before giving up
    backoff: float = 0.5  # seconds, times the number of failures so far, before trying again


RETRY = RetryPolicy()
SENT_ONCE = RetryPolicy(failures=1)
ONCE = RetryPolicy(rate_limited=1, failures=1)
PATIENT = RetryPolicy(rate_limited=30, failures=10, backoff=1.0)


class BudgetedCalls:
    """Makes platform calls within one :class:`RateBudget` and keeps what went wrong for the caller."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget
        self.rate_limited = 0  # refusals with a rate limit met so far
        self.last_error: Exception | None = None  # the platform's last refusal, for callers that report it
        self.in_flight = 0  # calls sent and not yet answered

    async def call(
        self,
        windows: Sequence[SlidingWindow],
        priority: Priority,
        send: Callable[[], Awaitable[T]],
        *,
        what: str,
        policy: RetryPolicy = RETRY,
        reservation: Reservation | None = None,
        deadline: float | None = None,
        granted: bool = False,
    ) -> T:
        """``send()`` within the budget, tried again as ``policy`` says; returns its result.

        ``granted``: the caller already holds a slot for the first attempt (taken ``tracked``).  With a
        ``deadline`` (the budget's seconds), raises :class:`TimeoutError` when a slot
        could not be had by then; nothing was sent for that attempt.  When it gives
        up, raises the last error: :class:`RateLimited`, :class:`DeliveryError` (at
        once when not retryable or gone), or whatever the call raised.
        """
        failures = refusals = 0
        while True:
            backoff = 0.0
            if not granted:
                await self._acquire(windows, priority, reservation, deadline)
            granted = False  # a slot given by the caller serves the first attempt only
            self.in_flight += 1
            try:
                return await send()
            except RateLimited as exc:
                self.last_error = exc
                self.rate_limited += 1
                refusals += 1
                self.budget.penalize(windows, exc.retry_after)
                if refusals >= policy.rate_limited:
                    log.warning("%s was rate limited %d times; giving up", what, refusals)
                    raise
                log.warning("%s was rate limited; trying again in %.2fs", what, exc.retry_after)
            except DeliveryError as exc:
                self.last_error = exc
                failures += 1
                if exc.gone or not exc.retryable or failures >= policy.failures:
                    raise
                log.warning("%s failed (attempt %d): %s", what, failures, exc)
                backoff = policy.backoff * failures
            except Exception as exc:  # noqa: BLE001 - a network failure the adapter did not map
                self.last_error = exc
                failures += 1
                if failures >= policy.failures:
                    raise
                log.warning("%s failed (attempt %d): %s: %s", what, failures, type(exc).__name__, exc)
                backoff = policy.backoff * failures
            finally:
                self.in_flight -= 1
                self.budget.settled(windows)
            if backoff:
                await self.budget.pace.sleep(backoff)

    async def _acquire(
        self,
        windows: Sequence[SlidingWindow],
        priority: Priority,
        reservation: Reservation | None,
        deadline: float | None,
    ) -> None:
        acquire = self.budget.acquire(windows, priority, reservation=reservation, tracked=True)
        if deadline is None:
            await acquire
        else:
            await self.budget.pace.within(acquire, deadline - self.budget.pace.now())
