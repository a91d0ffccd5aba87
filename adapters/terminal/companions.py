"""The services that run while a terminal chat is open (the daily-log scheduler, reminders)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class Companion(Protocol):
    """A service that runs while the chat is open, like those of bot.runtime."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Companions:
    """Starts the chat's services once it can print posts, and stops those that started, last first."""

    def __init__(self, services: Sequence[Companion]) -> None:
        self.services = list(services)
        self._started: list[Companion] = []

    async def start(self) -> None:
        """Start each service; one that fails is logged and left out, and the chat goes on without it."""
        for service in self.services:
            try:
                await service.start()
            except Exception:  # noqa: BLE001 - the chat goes on without it; the reason is in the log
                log.warning("%s could not start beside the terminal chat", service.name, exc_info=True)
                continue
            self._started.append(service)

    async def stop(self) -> None:
        """Stop the services that started (again is harmless: each is stopped once)."""
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - leaving anyway
                log.warning("%s did not stop cleanly", service.name, exc_info=True)
