"""Lifecycle of the services (platform adapters, web server, scheduler): start, run until a signal, stop.

Every service starts at once, so one slow platform never delays another, and
the stop signal is heard from the first instant: a start still pending when
SIGINT/SIGTERM arrives is cancelled, and every service that began starting is
stopped, which closes its connections.  A service whose start fails is
reported in one line and left stopped while the others keep running.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from adapters.errors import PlatformStartError, PlatformUnreachable
from bot.errors import first_line

log = logging.getLogger(__name__)


class Service(Protocol):
    """Something the runtime starts and stops (a platform adapter, the web server, a scheduler).

    ``stop()`` must be safe after a start that failed or was cancelled half-way:
    it is what closes the connections such a start left open.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class RunReport:
    """What happened to the services: which ran, and a sentence for each that could not start.

    ``gave_up`` is set when every needed service failed to start (a stop
    signal during start-up is not a failure).
    """

    started: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    gave_up: bool = False


async def run_services(
    services: list[Service],
    *,
    stop_event: asyncio.Event | None = None,
    needed: Collection[str] | None = None,
    stop_timeout: float = 15.0,
    start_timeout: float = 30.0,
) -> RunReport:
    """Start every service concurrently and run until SIGINT/SIGTERM (or ``stop_event``); then stop them.

    ``needed`` names the services of which at least one must start (by default
    all of them, e.g. only the chat platforms when a web server runs beside
    them): when every one of those failed, the others are stopped and the
    report says ``gave_up``.  ``stop_timeout`` bounds the wait for each
    cancelled start and each ``stop()``, so a stuck service cannot keep the
    process alive.  A start that hangs (an endpoint that accepts the connection
    and never answers) is said after a few seconds and given up after
    ``start_timeout`` seconds, in one sentence naming what it waited for.
    """
    stop = stop_event or asyncio.Event()
    report = RunReport()
    needed_names = set(needed) if needed is not None else {service.name for service in services}
    failed_names: set[str] = set()
    with _signals_set(stop):
        starting = {
            asyncio.create_task(_start_within(service, start_timeout), name=f"start-{service.name}"): service
            for service in services
        }
        stopped = asyncio.create_task(stop.wait(), name="stop-signal")
        started: list[Service] = []
        cancelled: list[Service] = []
        pending = set(starting)
        try:
            while pending and not stop.is_set() and not report.gave_up:
                done, _ = await asyncio.wait(pending | {stopped}, return_when=asyncio.FIRST_COMPLETED)
                for task in done & pending:
                    pending.discard(task)
                    service = starting[task]
                    sentence = _start_failure(service, task)
                    if sentence is None:
                        started.append(service)
                        report.started.append(service.name)
                        log.info("%s started", service.name)
                    else:
                        await _stop(service, stop_timeout)  # closes what the failed start opened, now
                        report.failures.append(sentence)
                        failed_names.add(service.name)
                        report.gave_up = bool(needed_names) and needed_names <= failed_names
            if started and not pending and not stop.is_set() and not report.gave_up:
                await stop.wait()
        finally:
            stopped.cancel()
            if pending:
                log.info("stopping while %s still starting", ", ".join(starting[t].name for t in pending))
                await _cancel(pending, stop_timeout)
                cancelled.extend(starting[t] for t in pending)  # stop() closes what they opened
            elif started:
                log.info("stopping")
            for service in [*reversed(started), *cancelled]:
                await _stop(service, stop_timeout)
    return report


def _waiting_for(service: Service) -> str:
    # Platforms say what their start is waiting for (``waiting_for``); other services need not.
    return getattr(service, "waiting_for", "") or f"{service.name} to start"


async def _start_within(service: Service, limit: float) -> None:
    """``service.start()``, said after a few seconds of waiting and given up after ``limit`` seconds."""
    patience = min(5.0, limit / 3)
    loop = asyncio.get_running_loop()
    notice = loop.call_later(patience, lambda: log.warning("still waiting for %s …", _waiting_for(service)))
    try:
        async with asyncio.timeout(limit) as deadline:
            await service.start()
    except TimeoutError:
        if not deadline.expired():
            raise
        raise PlatformUnreachable(
            f"Gave up after {limit:.0f} s waiting for {_waiting_for(service)}; check the network and that address."
        ) from None
    finally:
        notice.cancel()


def _start_failure(service: Service, task: asyncio.Task[None]) -> str | None:
    """None when ``task`` started ``service``; otherwise the sentence that says why not, logged once."""
    if task.cancelled():  # by the service itself: the runtime cancels only pending starts
        exc: BaseException | None = RuntimeError("its start was cancelled")
    else:
        exc = task.exception()
    if exc is None:
        return None
    if isinstance(exc, PlatformStartError):
        sentence = str(exc)
        log.error("%s is not running: %s", service.name, sentence)
    else:  # a bug rather than a setting: the traceback is what finds it
        sentence = f"{service.name} could not start: {first_line(exc)}"
        log.error("%s", sentence, exc_info=exc)
    return sentence


async def _cancel(tasks: set[asyncio.Task[None]], timeout: float) -> None:
    for task in tasks:
        task.cancel()
    _done, still = await asyncio.wait(tasks, timeout=timeout)
    for task in still:
        log.warning("%s ignored the stop; leaving it", task.get_name())
    for task in tasks - still:
        if not task.cancelled() and task.exception() is not None:
            log.debug("%s ended with %r while being cancelled", task.get_name(), task.exception())


async def _stop(service: Service, timeout: float) -> None:
    try:
        await asyncio.wait_for(service.stop(), timeout)
    except TimeoutError:
        log.warning("%s did not stop within %.0f s", service.name, timeout)
    except Exception:  # noqa: BLE001 - keep stopping the others
        log.exception("%s did not stop cleanly", service.name)


@contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` while the block runs."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
