"""Background work with one owner per process.

After-answer steps (indexing, memory extraction, summaries), deliveries and
scheduled jobs run as tasks of one :class:`BackgroundTasks`.  A task is named,
logged when it fails, retried with backoff when it asks for it, and the owner
waits for everything still running when the process stops, so no work is
dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Owns the process's background tasks; :meth:`drain` on stop."""

    def __init__(self, *, retries: int = 3, backoff: float = 1.0) -> None:
        self.retries = retries
        self.backoff = backoff
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.stopping = asyncio.Event()  # set by drain: the loops of `spawn_loop` end on it
        self._loops: set[asyncio.Task[None]] = set()
        self.failures = 0  # tasks that gave up after their last retry

    @property
    def running(self) -> int:
        return len(self._tasks)

    def spawn(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        *,
        retries: int | None = None,
    ) -> asyncio.Task[None] | None:
        """Run ``work()`` in the background; retried ``retries`` times (default: the owner's) on failure.

        ``work`` is a factory so that each attempt gets a fresh coroutine.  Returns
        None once the owner is draining: new work is refused, not lost silently
        (it is logged).
        """
        if self._closing:
            log.warning("background task %s refused: the process is stopping", name)
            return None
        task = asyncio.create_task(self._run(name, work, self.retries if retries is None else retries), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def spawn_loop(self, name: str, loop: Callable[[asyncio.Event], Awaitable[object]]) -> asyncio.Task[None] | None:
        """Run ``loop(stopping)`` until the owner drains (a periodic sweep); it must return once ``stopping`` is set.

        Not waited for by :meth:`wait_idle`, which is about work that ends by itself.
        """
        if self._closing:
            log.warning("background loop %s refused: the process is stopping", name)
            return None
        task = asyncio.create_task(self._run_loop(name, loop), name=name)
        self._loops.add(task)
        task.add_done_callback(self._loops.discard)
        return task

    async def _run_loop(self, name: str, loop: Callable[[asyncio.Event], Awaitable[object]]) -> None:
        try:
            await loop(self.stopping)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged; the loop's work is caught up at the next start
            self.failures += 1
            log.exception("background loop %s failed", name)

    async def _run(self, name: str, work: Callable[[], Awaitable[object]], retries: int) -> None:
        attempt = 0
        while True:
            try:
                await work()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failing step is logged and retried, never lost silently
                attempt += 1
                if attempt > retries:
                    # A warning, not an error: the turn it belonged to was answered; its work (an index,
                    # a summary) is caught up later by the step's own sweep or next run.
                    self.failures += 1
                    log.warning("background task %s failed after %d attempts", name, attempt, exc_info=True)
                    return
                log.warning("background task %s failed (attempt %d); retrying", name, attempt, exc_info=True)
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every task (including ones spawned meanwhile) has finished; True when they all did.

        With ``timeout``, gives up after that many seconds and returns False. Never cancels a task,
        not even when this wait is cancelled (``asyncio.gather`` would take its tasks down with it).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while pending := {task for task in self._tasks if not task.done()}:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(pending, timeout=left)
        return True

    async def drain(self, timeout: float = 10.0) -> None:
        """Refuse new work, wait up to ``timeout`` for running work, then cancel what is left.

        Cancelling the drain itself (someone who will not wait) cancels what is left at once.
        """
        self._closing = True
        self.stopping.set()
        loops = {task for task in self._loops if not task.done()}
        try:
            if loops:
                await asyncio.wait(loops, timeout=timeout)
            if await self.wait_idle(timeout):
                await self._cancel_left()  # a loop still in its last pass
                return
        except asyncio.CancelledError:
            await self._cancel_left()
            raise
        await self._cancel_left()

    async def _cancel_left(self) -> None:
        # Counted before cancelling: a cancelled task leaves the set as soon as it ends.
        left = [task for task in self._tasks | self._loops if not task.done()]
        if not left:
            return
        log.warning("cancelling %d background tasks still running at stop", len(left))
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
