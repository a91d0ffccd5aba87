"""Whether a user's Google is connected, known before the model is offered the Calendar tools.

``ToolBase.available_for`` is synchronous and runs for every turn, so it must not
query the database.  This before-model step looks the status up (at most once per
``ttl`` seconds per user, per process) just before the tools are chosen, and the
tools read the cached answer.  Connecting, disconnecting or a refused refresh in
this process drops the user's entry at once; another process's change is seen
after at most ``ttl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.chat.steps import ContextAddition, TurnFacts
from core.google.connection import ConnectionStatus, GoogleConnections

RECONNECT_NOTE = (
    "The user's Google connection stopped working (Google refused it). Calendar tools are unavailable; "
    "if they ask about their calendar, tell them to run /connect google again."
)


class GoogleAvailability:
    """A before-model step that caches each user's Google connection status for the Calendar tools."""

    name = "google-availability"
    timeout = 2.0

    def __init__(
        self, connections: GoogleConnections, *, ttl: float = 30.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.connections = connections
        self.ttl = ttl
        self.monotonic = monotonic
        self._known: dict[int, tuple[ConnectionStatus, float]] = {}

    def connected(self, user_id: int) -> bool:
        """The cached answer (False when unknown): no I/O, safe in ``available_for``."""
        known = self._known.get(user_id)
        return known is not None and known[0] is ConnectionStatus.CONNECTED

    def forget(self, user_id: int) -> None:
        """The user's connection changed here: look it up again at their next turn."""
        self._known.pop(user_id, None)

    async def status(self, user_id: int) -> ConnectionStatus:
        """The status, from the cache when fresh, otherwise from the database."""
        known = self._known.get(user_id)
        now = self.monotonic()
        if known is not None and now - known[1] < self.ttl:
            return known[0]
        status = await self.connections.status(user_id)
        self._known[user_id] = (status, now)
        return status

    async def before_model(self, turn: TurnFacts) -> ContextAddition | None:
        status = await self.status(turn.user.id)
        if status is ConnectionStatus.BROKEN:
            return ContextAddition(notes=[RECONNECT_NOTE])
        return None
