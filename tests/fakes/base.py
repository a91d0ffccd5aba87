"""Run an aiohttp application on loopback in a background thread.

The fakes run in their own thread and event loop so that they keep serving
while the code under test blocks (a subprocess, a benchmark, a synchronous
test) and so that their timing is independent of the test's own event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class ThreadedServer:
    """An aiohttp application served on ``127.0.0.1`` from a daemon thread.

    Subclasses build their routes in :meth:`build_app`.  ``start()`` returns once
    the port is bound; ``url`` is then ``http://127.0.0.1:PORT``.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int = 0
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- to override -------------------------------------------------------
    def build_app(self) -> web.Application:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def stop(self) -> None:
        if self.loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        try:
            fut.result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self.loop = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the server's loop and wait for its result."""
        assert self.loop is not None, "server not started"
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result(30)

    def submit(self, fn: Callable[..., Awaitable[T]], *args: Any) -> Future[T]:
        """Schedule ``fn(*args)`` on the server's loop without waiting."""
        assert self.loop is not None, "server not started"
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop)

    # -- internals ------------------------------------------------------------
    def _serve(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._startup())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _startup(self) -> None:
        self._runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to learn the bound port
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
