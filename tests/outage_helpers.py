"""A database that really goes away for a while, without touching the shared PostgreSQL server.

PostgreSQL: the test's `Database` talks to the server through `TcpProxy`, a small TCP
relay on 127.0.0.1; an outage closes its port (new connections are refused) and cuts
every open connection, as a server that stops does; the end of the outage opens the
same port again. SQLite: another connection holds an exclusive write lock (``BEGIN
EXCLUSIVE``), so every write waits for the busy timeout and fails with "database is
locked"; the end of the outage rolls that transaction back.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

from sqlalchemy.engine import make_url

from core.db.database import Database

# Short, so a failed attempt on a locked SQLite file takes half a second, not ten.
BUSY_TIMEOUT = 0.5


class TcpProxy:
    """Relays 127.0.0.1:`port` to `target`; `cut` refuses and drops connections until `restore`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        """Listen (on a free port the first time, the same port after a `cut`); return the port."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        """Stop listening and drop every relayed connection, as a server going down does."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, server_writer))
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer), return_exceptions=True
        )
        for writer in (client_writer, server_writer):
            self._open.discard(writer)
            writer.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


class DatabaseOutage:
    """A database that `begin` makes unavailable (refused or locked) and `end` brings back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self._proxy: TcpProxy | None = None
        self._lock: sqlite3.Connection | None = None

    async def database(self) -> Database:
        """A `Database` whose connections the outage reaches (through the proxy on PostgreSQL)."""
        if self.dialect == "sqlite":
            return Database(self.url, busy_timeout=BUSY_TIMEOUT)
        parsed = make_url(self.url)
        self._proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        port = await self._proxy.start()
        return Database(parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False))

    async def begin(self) -> None:
        if self._proxy is not None:
            await self._proxy.cut()
            return
        path = make_url(self.url).database
        assert path is not None
        self._lock = sqlite3.connect(path, isolation_level=None, timeout=30)
        for _ in range(200):
            try:  # SQLite may answer "locked" without waiting while the bot's writes run (WAL): ask again
                self._lock.execute("BEGIN EXCLUSIVE")
                return
            except sqlite3.OperationalError:
                await asyncio.sleep(0.01)
        self._lock.execute("BEGIN EXCLUSIVE")

    async def end(self) -> None:
        if self._proxy is not None:
            await self._proxy.restore()
            return
        if self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.end()
        if self._proxy is not None:
            await self._proxy.close()


@contextlib.asynccontextmanager
async def outage_of(url: str) -> AsyncIterator[DatabaseOutage]:
    """A `DatabaseOutage` for `url`, always ended and closed afterwards."""
    outage = DatabaseOutage(url)
    try:
        yield outage
    finally:
        await outage.close()
