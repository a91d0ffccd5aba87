"""Rate windows: one published platform limit each, learned down from the platform's refusals.

A platform describes its limits as :class:`SlidingWindow` objects (Discord: 5
edits per 5 s per channel and 50 requests a second per bot; Slack: 50
chat.update a minute per workspace, one post a second per channel).  A window
says whether a call of a given :class:`Priority` may go now; granting the
waiting calls in order is :class:`adapters.budget.RateBudget`'s.

Platforms do not publish everything: Slack keeps its burst sizes to itself, and
a workspace may allow fewer calls at once than its tier says.  So a window also
*learns* from the platform's refusals.  Besides counting calls in its period it
keeps a token bucket (a burst and a sustained rate, both starting at the
documented limit).  A 429 is taken as the truth: the bucket is emptied, and
the burst becomes what the platform had just let through back to back (the
calls it accepted, less what it refilled meanwhile); when the burst was no
bigger than that, the sustained rate was too high and is cut by a quarter.
What a refusal taught is a ceiling: each calm period (no refusal) gives back
one call of burst and a fiftieth of the documented rate up to that ceiling, and
only every ten calm periods does the ceiling itself rise a step toward the
documented limit (a refusal long ago may have been another process's doing).
So a window that learned the platform's real burst is not refused again.
"""

from __future__ import annotations

import math
from collections import deque
from enum import IntEnum

# Calm periods after which what a refusal taught is relaxed by one step.
CEILING_RISES_AFTER = 10
# Seconds a probing window waits for a call's answer before it grants the next anyway.
PROBE_PATIENCE = 10.0


class Priority(IntEnum):
    """Lower is more urgent."""

    FINAL = 0  # the last edit of an answer; may use its reserved slot
    FIRST = 1  # first visible text, new parts, uploads: what the user is waiting for
    FEEDBACK = 2  # a placeholder saying "on it": after first texts, before routine updates
    ROUTINE = 3  # intermediate updates while an answer streams; never uses reserved slots
    BACKGROUND = 4  # nice-to-have (typing indicators): only when the window is nearly idle


class SlidingWindow:
    """At most ``limit`` calls in any ``period`` seconds.

    A sliding window is stricter than the fixed windows servers count in, so
    keeping to it keeps to theirs.  ``background_share`` is the fraction of the
    window that :attr:`Priority.BACKGROUND` calls may fill.  ``reservable``
    windows hold final-edit slots; a window shared by every call of the bot
    (Discord's 50 a second) is not, since its slots come back within a second.
    ``burst`` spreads calls out: at most that many back to back, then
    ``limit / period`` a second.
    """

    def __init__(
        self,
        name: str,
        limit: int,
        period: float,
        *,
        background_share: float = 0.2,
        reservable: bool = True,
        burst: int | None = None,
        probe: bool = False,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs a positive limit and period")
        self.name = name
        self.limit = limit
        self.period = period
        self.background_share = background_share
        self.reservable = reservable
        self.reserved = 0
        self.blocked_until = 0.0
        self._stamps: deque[float] = deque()
        # The learned token bucket (see the module's docstring).
        self.documented_rate = limit / period
        self.rate = self.documented_rate
        self.max_burst = float(min(limit, burst) if burst else limit)  # the documented (or configured) burst
        self.burst = self.max_burst
        self._tokens = self.max_burst
        self._filled_at: float | None = None
        self._calm_since: float | None = None  # the last refusal or recovery step; None: never refused
        self._calm_periods = 0  # calm periods since the ceiling last rose
        self.ceiling_burst = self.max_burst  # what the refusals showed the platform allows
        self.ceiling_rate = self.documented_rate
        self.refusals = 0
        # An undocumented burst is probed one call at a time until the first refusal teaches it, so that
        # refusal is the only one (calls sent together would all be refused before the lesson arrives).
        self.probing = probe
        self._in_flight: deque[float] = deque()  # when each call granted here and not yet answered went

    # -- the learned bucket ----------------------------------------------------------

    def _refill(self, now: float) -> None:
        if self._calm_since is not None:
            steps = int((now - self._calm_since) // self.period)
            if steps > 0:
                self._calm_periods += steps
                rises = self._calm_periods // CEILING_RISES_AFTER
                if rises:
                    self._calm_periods -= rises * CEILING_RISES_AFTER
                    self.ceiling_burst = min(self.max_burst, self.ceiling_burst + rises)
                    self.ceiling_rate = min(self.documented_rate, self.ceiling_rate + rises * self.documented_rate / 50)
                self.burst = min(self.ceiling_burst, self.burst + steps)
                self.rate = min(self.ceiling_rate, self.rate + steps * self.documented_rate / 50)
                self._calm_since += steps * self.period
                if self.burst >= self.max_burst and self.rate >= self.documented_rate:
                    self._calm_since = None  # fully recovered: back to the documented limits
        if self._filled_at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now

    def tokens(self, now: float) -> float:
        """Calls the learned bucket would allow right now (fractions mean "soon")."""
        self._refill(now)
        return self._tokens

    def refused(self, now: float) -> None:
        """The platform refused a call although this window admitted it: learn a stricter limit."""
        self._refill(now)
        self.probing = False
        if self._stamps:
            self._stamps.pop()  # the refused call did not count on the platform's side
        allowed = max(1.0, float(round(self._accepted_burst(now))))
        if allowed < self.burst:
            self.burst = allowed  # the platform's burst is smaller than we thought
        else:
            self.rate = max(self.documented_rate / 20, self.rate * 0.75)  # within the burst: the rate is too high
        self.ceiling_burst = min(self.ceiling_burst, self.burst)
        self.ceiling_rate = min(self.ceiling_rate, self.rate)
        self._calm_periods = 0
        self._tokens = 0.0
        self._calm_since = now
        self.refusals += 1

    def _accepted_burst(self, now: float) -> float:
        """The most calls the platform let through back to back up to now, less what it refilled meanwhile."""
        stamps = list(self._stamps)
        return max(
            (len(stamps) - i - self.documented_rate * (now - stamp) for i, stamp in enumerate(stamps)), default=1.0
        )

    def adopt(self, other: SlidingWindow, now: float) -> None:
        """Take on what ``other``, a window for the same limit elsewhere (another channel), learned."""
        if other._calm_since is None:
            return
        self._refill(now)
        self.burst = min(self.burst, other.burst)
        self.rate = min(self.rate, other.rate)
        self.ceiling_burst = min(self.ceiling_burst, other.ceiling_burst)
        self.ceiling_rate = min(self.ceiling_rate, other.ceiling_rate)
        self._tokens = min(self._tokens, self.burst)
        self._calm_since = other._calm_since if self._calm_since is None else max(self._calm_since, other._calm_since)

    def sustained(self) -> float:
        """Calls a period this window currently believes the platform allows."""
        return min(float(self.limit), self.rate * self.period)

    def used(self, now: float) -> int:
        stamps = self._stamps
        while stamps and stamps[0] <= now - self.period:
            stamps.popleft()
        return len(stamps)

    def admits(self, now: float, priority: Priority, *, holds_reservation: bool = False) -> bool:
        """Whether a call of this priority may go now.

        Reserved slots are only for the final edits that hold them: everything
        else leaves them free.
        """
        if now < self.blocked_until or self.tokens(now) < 1 - 1e-9:
            return False
        if self.probing and self._awaited(now):
            return False  # the call under way may teach the burst first
        used = self.used(now)
        if priority == Priority.FINAL and holds_reservation:
            return used + self.reserved - 1 < self.limit
        if priority == Priority.BACKGROUND:
            return used + self.reserved < max(1, int(self.limit * self.background_share))
        return used + self.reserved < self.limit

    def next_change(self, now: float) -> float:
        """When time alone may free a slot: the end of a penalty or of the oldest call's period.

        ``inf`` when only a released reservation can make room; releasing wakes the waiters.
        """
        if now < self.blocked_until:
            return self.blocked_until
        tokens = self.tokens(now)
        if tokens < 1 - 1e-9:
            return now + (1 - tokens) / self.rate
        self.used(now)
        return self._stamps[0] + self.period if self._stamps else math.inf

    def wait_estimate(self, now: float, queued: int, *, holds_reservation: bool = False) -> float:
        """Seconds until a call behind ``queued`` others would be admitted here, as far as time alone tells."""
        wait = max(0.0, self.blocked_until - now)
        need = queued + 1 - self.tokens(now)
        if need > 0:
            wait = max(wait, need / self.rate)
        self.used(now)
        excess = len(self._stamps) + self.reserved - (1 if holds_reservation else 0) + queued + 1 - self.limit
        if excess > 0:
            stamps = self._stamps
            wait = max(wait, stamps[min(excess, len(stamps)) - 1] + self.period - now if stamps else math.inf)
        return wait

    def take(self, now: float, *, tracked: bool = False) -> None:
        """Count a call granted now (``tracked``: its answer will be reported with :meth:`settled`)."""
        self._refill(now)
        if self.probing and tracked:
            self._in_flight.append(now)
        self._tokens -= 1
        self._stamps.append(now)

    def settled(self) -> None:
        """A call granted here has its answer (accepted or refused), or was never sent."""
        if self._in_flight:
            self._in_flight.popleft()

    def _awaited(self, now: float) -> bool:
        """Whether a call granted here still awaits its answer (one that went long ago is not waited for)."""
        while self._in_flight and self._in_flight[0] < now - PROBE_PATIENCE:
            self._in_flight.popleft()
        return bool(self._in_flight)

    def try_reserve(self) -> bool:
        """Hold back one slot for a final edit; fails when reservations would fill the window."""
        if self.reserved + 1 >= self.limit:
            return False
        self.reserved += 1
        return True

    def release(self) -> None:
        self.reserved = max(0, self.reserved - 1)

    def block_for(self, seconds: float, now: float) -> None:
        """The server said to wait (a 429 with retry_after): nothing goes through until then."""
        self.blocked_until = max(self.blocked_until, now + seconds)

    def busy(self, now: float) -> bool:
        """Whether a call of first-text priority would have to wait here now."""
        return not self.admits(now, Priority.FIRST)
