"""The calculator: bounded arithmetic, run in worker processes with a hard timeout.

:class:`Calculator` runs :func:`core.tools.arithmetic.evaluate` off the event
loop in a small pool of reusable worker processes; a worker that passes the
time limit is killed and replaced, so no expression can stall other
conversations.  ``evaluate`` and ``Limits`` are re-exported from here.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from core.parent_watch import exit_with_parent
from core.tools.arithmetic import Limits, Number, evaluate
from core.tools.registry import ToolInputError

__all__ = ["Calculator", "Limits", "Number", "evaluate"]

log = logging.getLogger(__name__)


def _serve(conn: Connection, limits: Limits) -> None:
    """A worker's loop: one expression in, ``(ok, value or message)`` out, until told to stop."""
    # Forked by the single-threaded forkserver, which ends with the bot: a calculation
    # still running then (a long big-number operation) is killed by the kernel.
    exit_with_parent(os.getppid(), kernel=True)
    conn.send("ready")
    while True:
        try:
            expression = conn.recv()
        except (EOFError, OSError):
            return
        if expression is None:
            return
        try:
            conn.send((True, evaluate(expression, limits)))
        except ToolInputError as exc:
            conn.send((False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the worker must answer, whatever happened
            conn.send((False, f"the calculation failed ({type(exc).__name__})"))


@dataclass(eq=False, slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection

    def stop(self) -> None:
        """Kill the process (it may be mid-calculation) and release its pipe; safe to repeat."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(1.0)  # SIGKILL cannot be ignored: the wait is for the kernel, not the worker
        self.conn.close()


class Calculator:
    """Runs :func:`evaluate` off the event loop, in at most ``workers`` reusable processes.

    A calculation that passes ``timeout`` seconds has its worker killed (a thread
    could not be stopped) and a fresh one takes its place on the next call.
    Call :meth:`close` at shutdown; it kills every worker, busy or idle.
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        workers: int = 2,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass
        start_timeout: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.limits = limits
        self._workers = workers
        # A forkserver forks workers from a clean single-threaded process that
        # already imported this module, so a replacement starts in milliseconds
        # and never inherits the bot's threads or sockets.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._closed = False

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: an asyncio semaphore belongs to the loop it first waited on.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._workers))
        return self._slots[1]

    async def start(self) -> None:
        """Start a worker now (and the forkserver, which takes seconds), so the first user does not wait."""
        if not self._idle and not self._closed:
            worker = await asyncio.to_thread(self._start)
            if self._closed:
                worker.stop()
            else:
                self._idle.append(worker)

    async def evaluate(self, expression: str) -> Number:
        """The value of ``expression``; :class:`ToolInputError` with a sentence when refused or too slow."""
        if self._closed:
            raise ToolInputError("the calculator is shutting down")
        if len(expression) > self.limits.max_length:
            raise ToolInputError(f"the expression is longer than {self.limits.max_length} characters")
        async with self._semaphore():
            worker = await self._take()
            if self._closed:  # closed while the worker was starting or a slot was awaited
                worker.stop()
                raise ToolInputError("the calculator is shutting down")
            self._busy.add(worker)
            healthy = False
            try:
                ok, value = await self._ask(worker, expression)
                healthy = True
            finally:
                self._busy.discard(worker)
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    worker.stop()
        if not ok:
            raise ToolInputError(value)
        return value

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            worker.stop()
        # Starting the forkserver the first time imports this module in a new interpreter: off the loop.
        return await asyncio.to_thread(self._start)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.limits), name="calculator", daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        # The child may first re-import the program's main script (multiprocessing does so
        # for scripts run by path); that time must not count against a calculation.
        try:
            if parent.poll(self.start_timeout) and parent.recv() == "ready":
                return worker
        except (EOFError, OSError):
            pass
        log.error("a calculator worker did not start (exit code %s)", process.exitcode)
        worker.stop()
        raise ToolInputError("the calculator is not available right now")

    async def _ask(self, worker: _Worker, expression: str) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        answered = loop.create_future()
        fd = worker.conn.fileno()
        loop.add_reader(fd, lambda: answered.done() or answered.set_result(None))
        try:
            worker.conn.send(expression)
            await asyncio.wait_for(answered, self.timeout)
            reply: tuple[bool, Any] = worker.conn.recv()
        except TimeoutError:
            log.warning("a calculation ran past %g s and was stopped (%d characters)", self.timeout, len(expression))
            raise ToolInputError(f"the calculation took longer than {self.timeout:g} s and was stopped") from None
        except (EOFError, OSError) as exc:
            log.error("a calculator worker died (exit code %s)", worker.process.exitcode)
            raise ToolInputError("the calculation failed") from exc
        finally:
            loop.remove_reader(fd)
        return reply

    def close(self) -> None:
        """Kill every worker; later calls are refused."""
        self._closed = True
        for worker in self._idle:
            worker.stop()
        self._idle.clear()
        # A busy worker's caller sees the pipe close and answers "the calculation failed".
        for worker in self._busy:
            if worker.process.is_alive():
                worker.process.kill()
