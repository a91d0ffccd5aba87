"""Each user's vectors in memory: one index per user and kind, loaded lazily, kept current, within a budget.

An index is loaded the first time it is searched, in one query streamed in
batches of ``batch`` rows: each batch is fetched on the event loop (small
enough to decode in a few milliseconds) and added to a private index in a
worker thread while the next is fetched; the index is
published once complete, so a cold load of 100k rows never stalls the other
conversations.  It is then kept up to date by fetching only rows with a higher
id than the last seen (a re-indexed message gets a new row).  This process's
own writes are fetched before the next search; rows written by another process
are fetched in the background once the index is older than ``max_age`` and
appear a search later, so a loaded index costs no query on the way to a first
token.  Rows removed by another process are caught when results are read back
from the database, which always filters by the user.  The loaded indexes stay
within ``budget_bytes``: the least recently searched are dropped whole first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import Row, Select, select

from core.db.database import Database
from core.db.models import Message
from core.db.models_memory import Memory, MessageEmbedding
from core.memory.index import VectorIndex

log = logging.getLogger(__name__)

Kind = Literal["message", "memory"]


@dataclass(slots=True)
class _Loaded:
    index: VectorIndex | None
    last_row_id: int = 0
    checked: float = float("-inf")  # time.monotonic() of the last look at the database
    dirty: bool = True  # this process wrote rows the index has not fetched yet
    # Rows removed while the first load was running, to take out of it once it is published.
    dropped: set[int] = field(default_factory=set)


class UserVectors:
    """The cache of per-user indexes; vectors of another embedding model are left out.

    The indexes together stay within ``budget_bytes`` of memory: past it the least
    recently searched are dropped whole (and loaded again at their next search).
    """

    def __init__(
        self,
        db: Database,
        model_name: str,
        *,
        quantize_above: int = 4_096,
        max_age: float = 1.0,
        budget_bytes: int = 2 * 1024**3,
        spill_dir: str | Path | None = None,
        batch: int = 500,
    ) -> None:
        self.db = db
        self.model_name = model_name
        self.quantize_above = quantize_above
        # Rows other processes write are fetched when the index is older than this (seconds);
        # this process's own writes mark the index dirty and are fetched at the next search.
        self.max_age = max_age
        self.budget_bytes = budget_bytes
        self.spill_dir = spill_dir
        # Rows a cold load fetches at a time: a batch is decoded on the event loop, so it must stay small.
        self.batch = batch
        self._loaded: OrderedDict[tuple[int, Kind], _Loaded] = OrderedDict()  # least recently used first
        self._locks: dict[int, asyncio.Lock] = {}
        self._refreshing: dict[tuple[int, Kind], asyncio.Task[VectorIndex | None]] = {}
        self._catching_up: set[tuple[int, Kind]] = set()  # keys whose running refresh nobody waits for

    @property
    def resident_bytes(self) -> int:
        """Memory held by the loaded indexes."""
        return sum(loaded.index.nbytes for loaded in self._loaded.values() if loaded.index is not None)

    def loaded_users(self) -> set[int]:
        """Users with at least one index in memory."""
        return {user_id for (user_id, _), loaded in self._loaded.items() if loaded.index is not None}

    async def get(self, user_id: int, kind: Kind) -> VectorIndex | None:
        """The user's index of ``kind``, loaded or brought up to date; None while they have no vectors.

        The load runs as its own task: a caller that gives up (a recall step past
        its timeout) does not cancel it, so a large cold load still completes and
        the next turn finds the index ready.
        """
        key = (user_id, kind)
        loaded = self._loaded.get(key)
        if loaded is not None:
            self._loaded.move_to_end(key)
        task = self._refreshing.get(key)
        idle = task is None or task.done()
        loaded_once = loaded is not None and loaded.checked > float("-inf")
        if loaded_once and not loaded.dirty and (idle or key in self._catching_up):  # type: ignore[union-attr]
            if idle and time.monotonic() - loaded.checked >= self.max_age:  # type: ignore[union-attr]
                # Only other processes' rows can be missing: serve what is here and fetch them
                # for the next search, instead of a query on the way to every first token.
                self._start_refresh(user_id, kind, catching_up=True)
            return loaded.index  # type: ignore[union-attr]
        if idle:
            task = self._start_refresh(user_id, kind)
        assert task is not None
        return await asyncio.shield(task)

    def _start_refresh(
        self, user_id: int, kind: Kind, *, catching_up: bool = False
    ) -> asyncio.Task[VectorIndex | None]:
        key = (user_id, kind)
        if key not in self._loaded:  # from now on a removal is remembered for the index being loaded
            self._loaded[key] = _Loaded(None)
        task = asyncio.get_running_loop().create_task(self._refresh(user_id, kind))
        task.add_done_callback(_consume)
        self._refreshing[key] = task
        if catching_up:
            self._catching_up.add(key)
            task.add_done_callback(lambda _: self._catching_up.discard(key))
        return task

    async def _refresh(self, user_id: int, kind: Kind) -> VectorIndex | None:
        key = (user_id, kind)
        async with self._lock(user_id):
            loaded = self._loaded.get(key)
            if loaded is None:
                loaded = self._loaded[key] = _Loaded(None)
            loaded.dirty = False  # a write from now on marks it again
            cold = loaded.index is None
            # A first load builds a private index in a worker thread (nobody can search it
            # meanwhile); rows fetched later go into the shared index here, a batch at a time.
            index = loaded.index
            adding: asyncio.Future[None] | None = None  # the previous batch, added while the next is fetched
            try:
                async with self.db.engine.connect() as conn:
                    query = self._query(user_id, kind, loaded.last_row_id)
                    if cold:
                        # One query streamed in batches (a server-side cursor): one plan and one
                        # pass over the user's rows, each batch decoded on the loop in a few ms.
                        batches = (await conn.stream(query)).partitions(self.batch)
                    else:
                        batches = _once((await conn.execute(query)).all())  # usually a handful of new rows
                    async for rows in batches:
                        if adding is not None:
                            await adding
                            adding = None
                        if not rows:
                            continue
                        if index is None:
                            index = VectorIndex(
                                rows[-1].dims, quantize_above=self.quantize_above, spill_dir=self.spill_dir
                            )
                        if cold:
                            adding = asyncio.ensure_future(asyncio.to_thread(_add_rows, index, rows))
                        else:
                            _add_rows(index, rows)
                        loaded.last_row_id = rows[-1].id
                if adding is not None:
                    await adding
            except BaseException:
                if cold:  # the private index is lost: the next load starts from the first row again
                    loaded.last_row_id = 0
                raise
            finally:
                if adding is not None and not adding.done():
                    adding.cancel()
            loaded.checked = time.monotonic()
            if cold and index is not None:
                await asyncio.to_thread(index.trim)
                index.remove(list(loaded.dropped))
                loaded.dropped.clear()
                loaded.index = index
            if loaded.index is not None:  # a new index, or one that grew
                self._keep_within_budget(key)
            return loaded.index

    def _query(self, user_id: int, kind: Kind, after: int) -> Select[Any]:
        table = MessageEmbedding if kind == "message" else Memory
        query = select(table.id, table.embedding, table.dims).where(
            table.user_id == user_id, table.id > after, table.model == self.model_name
        )
        if kind == "message":
            query = query.add_columns(MessageEmbedding.message_id, Message.created_at).join(
                Message, Message.id == MessageEmbedding.message_id
            )
        else:
            query = query.add_columns(Memory.id, Memory.created_at).where(Memory.superseded_by.is_(None))
        return query.order_by(table.id)

    def _keep_within_budget(self, keep: tuple[int, Kind]) -> None:
        """Drop the least recently used indexes until the loaded ones fit the budget (``keep`` stays)."""
        total = self.resident_bytes
        for key in list(self._loaded):
            if total <= self.budget_bytes:
                return
            loaded = self._loaded[key]
            task = self._refreshing.get(key)
            if key == keep or loaded.index is None or (task is not None and not task.done()):
                continue
            total -= loaded.index.nbytes
            del self._loaded[key]
            log.info("memory index of user %s (%s) evicted to stay within the memory budget", key[0], key[1])
        if total > self.budget_bytes:
            log.warning(
                "memory indexes hold %d MB, over the budget of %d MB",
                total // 1_000_000,
                self.budget_bytes // 1_000_000,
            )

    def mark_dirty(self, user_id: int, kind: Kind) -> None:
        """This process wrote rows of ``kind`` for ``user_id``: fetch them at the next search."""
        loaded = self._loaded.get((user_id, kind))
        if loaded is not None:
            loaded.dirty = True

    def forget_user(self, user_id: int) -> None:
        """Drop the cached indexes of ``user_id`` (after their data was deleted)."""
        for kind in ("message", "memory"):
            self._loaded.pop((user_id, kind), None)

    def _lock(self, user_id: int) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    def drop(self, user_id: int, kind: Kind, ids: Sequence[int]) -> None:
        """Take rows out of the user's loaded index (or out of the one being loaded, once it is)."""
        loaded = self._loaded.get((user_id, kind))
        if loaded is None:
            return
        if loaded.index is not None:
            loaded.index.remove(ids)
        else:
            loaded.dropped.update(int(item) for item in ids)


async def _once(rows: Sequence[Row[Any]]) -> AsyncIterator[Sequence[Row[Any]]]:
    yield rows


def _add_rows(index: VectorIndex, rows: Sequence[Row[Any]]) -> None:
    """Add fetched rows of the index's size to it (a first load's batches run in a worker thread)."""
    usable = [row for row in rows if row.dims == index.dims]
    if not usable:
        return
    matrix = np.frombuffer(b"".join(row.embedding for row in usable), dtype="<f4").reshape(len(usable), index.dims)
    index.add([row[3] for row in usable], matrix, [row[4].timestamp() for row in usable])


def _consume(task: asyncio.Task[VectorIndex | None]) -> None:
    """Retrieve a load's failure when every caller gave up on it, so it is logged once, not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("loading a memory index failed: %s", task.exception())
