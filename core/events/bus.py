"""An in-process event bus: features publish typed events, other features subscribe to them.

Subscriptions are made while the process is wired (bot/container.py, each feature's
``install``), before anything publishes. A handler's failure is logged with its
traceback and never reaches the publisher or the handlers after it. Other processes
learn of changes through the database's revisions, not through this bus.
"""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.events.kinds import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None] | None]


class EventBus:
    """Handlers by event type; :meth:`publish` runs those of the event's type (and of its base types)."""

    def __init__(self) -> None:
        self._handlers: defaultdict[type[Event], list[Handler[Any]]] = defaultdict(list)

    def subscribe(self, kind: type[E], handler: Handler[E]) -> None:
        """Call ``handler(event)`` for every published event of type ``kind`` (a subclass included).

        ``handler`` may be a plain function or a coroutine function; handlers run in the order
        they subscribed. Keep them quick: spawn slow work (a DM) on the background tasks."""
        self._handlers[kind].append(handler)

    def subscribers(self, kind: type[Event]) -> int:
        """How many handlers listen to exactly ``kind`` (for the wiring's tests and ``doctor``)."""
        return len(self._handlers.get(kind, ()))

    async def publish(self, event: Event) -> None:
        """Run every handler of ``event``, one after another; a failing handler is logged and skipped."""
        for kind in type(event).__mro__:
            for handler in self._handlers.get(kind, ()):  # type: ignore[call-overload]
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # noqa: BLE001 - one subscriber's bug must not break the publisher
                    log.exception("the %s handler %s failed", type(event).__name__, _name(handler))


def _name(handler: Callable[..., object]) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)
