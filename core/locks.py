"""Ordering: one turn at a time per place (DM, thread), many places at once.

In one process an asyncio lock per place is enough.  When several processes
share one PostgreSQL database, a PostgreSQL advisory lock keyed by the place is
taken as well, so order holds across processes; and a process that finds an
answer still ``streaming`` can tell a live one (its place's lock is held
elsewhere) from one whose process died.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Generic, TypeVar

from sqlalchemy import ARRAY, Integer, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.db.outage import describe, unavailable
from core.types import ConversationRef

log = logging.getLogger(__name__)

# First key of pg_advisory_lock(int, int): a namespace, so other applications'
# advisory locks on the same database never collide with ours ("CL").
ADVISORY_NAMESPACE = 0x434C

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """An asyncio lock per key, dropped again when nobody holds or waits for it.

    asyncio locks are FIFO and an uncontended one is taken without yielding, so
    callers that ask in order are served in order.
    """

    def __init__(self) -> None:
        self._locks: dict[K, asyncio.Lock] = {}
        self._users: dict[K, int] = {}

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def busy(self, key: K) -> bool:
        """Whether someone holds or waits for this key."""
        return key in self._locks


TRY_LOCK = "pg_try_advisory_lock"
UNLOCK = "pg_advisory_unlock"
_IDS = bindparam("ids", type_=ARRAY(Integer))
# One statement for every lock asked for meanwhile: the locks of 100 turns at once cost a few
# round trips on the shared session, not 100 in a row.
_BATCH = {
    name: text(f"SELECT n, {name}(:ns, k) FROM unnest(:ids) WITH ORDINALITY AS t(k, n)").bindparams(_IDS)
    for name in (TRY_LOCK, UNLOCK)
}


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks, one per running turn, all in one session.

    This process keeps one connection (autocommit) for its locks: a running turn
    holds no connection of its own, so 100 turns at once cost one connection, not
    100 (PostgreSQL's default ``max_connections`` is 100, and the turns' own short
    writes share the main pool).  A lock is taken with ``pg_try_advisory_lock``,
    polled while another process holds it: a blocking ``pg_advisory_lock`` would
    stall every other lock statement on the shared connection.  Such waits are
    rare, since the local lock already orders the turns of this process.  If the
    session is lost, its locks go with it: they are taken again on a new one.
    """

    def __init__(self, url: str, *, poll: float = 0.05) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0, pool_pre_ping=False, pool_timeout=3600
        )
        self.poll = poll
        self._statement = asyncio.Lock()  # one statement at a time on the shared connection
        self._held: Counter[int] = Counter()
        self._asked: list[tuple[str, int, asyncio.Future[object]]] = []  # waiting for the next statement
        self._sender: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def hold(self, conversation_id: int) -> AsyncIterator[None]:
        """Hold the lock, waiting while another process holds it."""
        params = {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
        while not await self._take(params):  # noqa: ASYNC110 - held by another process: nothing here to wait on
            await asyncio.sleep(self.poll)
        self._held[conversation_id] += 1
        try:
            yield None
        finally:
            await self._give_back(conversation_id, params)

    @asynccontextmanager
    async def try_hold(self, conversation_id: int) -> AsyncIterator[bool]:
        """Take the lock only if nobody holds it; yields whether it was taken."""
        params = {"ns": ADVISORY_NAMESPACE, "id": conversation_id}
        taken = await self._take(params)
        if taken:
            self._held[conversation_id] += 1
        try:
            yield taken
        finally:
            if taken:
                await self._give_back(conversation_id, params)

    async def _take(self, params: dict[str, int]) -> bool:
        attempt = asyncio.ensure_future(self._run(TRY_LOCK, params))
        try:
            return bool(await asyncio.shield(attempt))
        except asyncio.CancelledError:
            # The statement still completes: a lock it took for nobody is given back.
            attempt.add_done_callback(lambda done: self._unlock_unclaimed(done, params))
            raise

    def _unlock_unclaimed(self, done: asyncio.Future[object], params: dict[str, int]) -> None:
        if not done.cancelled() and done.exception() is None and done.result():
            task = asyncio.ensure_future(self._run(UNLOCK, params))
            task.add_done_callback(_log_failure)

    async def _give_back(self, conversation_id: int, params: dict[str, int]) -> None:
        self._held[conversation_id] -= 1
        if self._held[conversation_id] <= 0:
            del self._held[conversation_id]
        # Shielded: a cancelled turn still releases its place.
        try:
            await asyncio.shield(self._run(UNLOCK, params))
        except Exception as exc:
            if not unavailable(exc):
                raise
            # The server is away: the session that held the lock is gone, and the lock with it.
            log.warning(
                "conversation lock %s not given back, the database is unavailable: %s", conversation_id, describe(exc)
            )

    async def _run(self, name: str, params: dict[str, int]) -> object:
        """``name(ns, id)`` on the shared session, sent with the others asked meanwhile."""
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._asked.append((name, params["id"], answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send())
        return await answer

    async def _send(self) -> None:
        """Send what was asked, one statement per run of the same function, in the order asked."""
        while self._asked:
            name = self._asked[0][0]
            count = next((i for i, (other, _, _) in enumerate(self._asked) if other != name), len(self._asked))
            batch, self._asked = self._asked[:count], self._asked[count:]
            try:
                results = await self._statement_for(name, [key for _, key, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - handed to each caller of the batch
                for _, _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, _, answer), result in zip(batch, results, strict=True):
                if not answer.done():
                    answer.set_result(result)

    async def _statement_for(self, name: str, keys: list[int]) -> list[object]:
        # The pool holds exactly one connection, so every statement runs in the same session
        # (where the locks live); it is checked in between statements, never left checked out.
        async with self._statement:
            for attempt in (1, 2):
                async with self.engine.connect() as connection:
                    try:
                        rows = await connection.execute(_BATCH[name], {"ns": ADVISORY_NAMESPACE, "ids": keys})
                        by_position = {int(row[0]): row[1] for row in rows.all()}
                        return [by_position[n] for n in range(1, len(keys) + 1)]
                    except DBAPIError as exc:
                        if not (exc.connection_invalidated and attempt == 1):
                            raise
                await self._session_lost()
            raise AssertionError("unreachable")

    async def _session_lost(self) -> None:
        """The server ended the session (a restart, a terminated backend): take our locks again."""
        if not self._held:
            return
        log.warning("the database session holding %d conversation locks was lost; taking them again", len(self._held))
        async with self.engine.connect() as connection:
            for conversation_id in list(self._held):
                [(_, taken)] = await connection.execute(
                    _BATCH[TRY_LOCK], {"ns": ADVISORY_NAMESPACE, "ids": [conversation_id]}
                )
                if not taken:
                    log.warning("conversation lock %s is now held by another process", conversation_id)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _log_failure(task: asyncio.Future[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("giving back a conversation lock failed: %s", task.exception())


def place_key(place: ConversationRef) -> int:
    """A stable 31-bit advisory-lock key for a place (a collision only serialises two places)."""
    name = f"{place.platform}\x1f{place.workspace}\x1f{place.channel}\x1f{place.thread}".encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=4).digest(), "big") & 0x7FFFFFFF


class PlaceLocks:
    """One turn at a time per place (a DM, a thread): in this process, and across processes
    when ``advisory`` is given.

    A place's conversation is looked up under its lock, so /new in any process
    and the next message's turn can never interleave.
    """

    def __init__(self, advisory: AdvisoryLocks | None = None) -> None:
        self.advisory = advisory
        self._local: KeyedLocks[ConversationRef] = KeyedLocks()

    @asynccontextmanager
    async def hold(self, place: ConversationRef) -> AsyncIterator[AsyncConnection | None]:
        """Hold the place (yields None: the turn's writes use the pool, the lock needs no connection of its own).

        The local lock is taken without yielding when free, so callers that ask
        in order are served in order.
        """
        async with self._local.hold(place):
            if self.advisory is None:
                yield None
            else:
                async with self.advisory.hold(place_key(place)):
                    yield None

    def local(self, place: ConversationRef) -> AbstractAsyncContextManager[None]:
        """This process's part of `hold` (taken without yielding when free): the place's order here."""
        return self._local.hold(place)

    def shared(self, place: ConversationRef) -> AbstractAsyncContextManager[None]:
        """The other processes' part of `hold`, taken inside `local`; raises while the database is away."""
        return self.advisory.hold(place_key(place)) if self.advisory is not None else nullcontext()

    @asynccontextmanager
    async def hold_if_free(self, place: ConversationRef) -> AsyncIterator[bool]:
        """Hold the place only if no turn runs in it here or in another process."""
        if self._local.busy(place):
            yield False
        elif self.advisory is None:
            async with self.hold(place):
                yield True
        else:
            async with self.advisory.try_hold(place_key(place)) as taken:
                yield taken

    def busy(self, place: ConversationRef) -> bool:
        """Whether a turn is running or waiting at this place in this process."""
        return self._local.busy(place)
