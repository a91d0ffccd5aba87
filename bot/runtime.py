"""Lifecycle of the platform adapters: start them all, run until a signal, stop them cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    """Something the runtime starts and stops (a platform adapter, the web server, a scheduler)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_services(services: list[Service], *, stop_event: asyncio.Event | None = None) -> None:
    """Start every service, wait for SIGINT/SIGTERM (or ``stop_event``), then stop them in reverse order."""
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
            log.info("%s started", service.name)
        await stop.wait()
        log.info("stopping")
    finally:
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("%s did not stop cleanly", service.name)
        for sig in installed:
            loop.remove_signal_handler(sig)
