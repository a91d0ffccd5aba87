"""Each user's vectors in memory: one index per user and kind, loaded lazily and kept current.

An index is loaded in one query the first time it is searched, then kept up
to date by fetching only rows with a higher id than the last seen (a
re-indexed message gets a new row).  This process's own writes are fetched
before the next search; rows written by another process are fetched in the
background once the index is older than ``max_age`` and appear a search later,
so a loaded index costs no query on the way to a first token.  Rows removed by another process are caught when results
are read back from the database, which always filters by the user.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import select

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


class UserVectors:
    """The cache of per-user indexes; vectors of another embedding model are left out."""

    def __init__(self, db: Database, model_name: str, *, quantize_above: int = 20_000, max_age: float = 1.0) -> None:
        self.db = db
        self.model_name = model_name
        self.quantize_above = quantize_above
        # Rows other processes write are fetched when the index is older than this (seconds);
        # this process's own writes mark the index dirty and are fetched at the next search.
        self.max_age = max_age
        self._loaded: dict[tuple[int, Kind], _Loaded] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._refreshing: dict[tuple[int, Kind], asyncio.Task[VectorIndex | None]] = {}
        self._catching_up: set[tuple[int, Kind]] = set()  # keys whose running refresh nobody waits for

    async def get(self, user_id: int, kind: Kind) -> VectorIndex | None:
        """The user's index of ``kind``, loaded or brought up to date; None while they have no vectors.

        The load runs as its own task: a caller that gives up (a recall step past
        its timeout) does not cancel it, so a large cold load still completes and
        the next turn finds the index ready.
        """
        key = (user_id, kind)
        loaded = self._loaded.get(key)
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
        task = asyncio.get_running_loop().create_task(self._refresh(user_id, kind))
        task.add_done_callback(_consume)
        self._refreshing[key] = task
        if catching_up:
            self._catching_up.add(key)
            task.add_done_callback(lambda _: self._catching_up.discard(key))
        return task

    async def _refresh(self, user_id: int, kind: Kind) -> VectorIndex | None:
        async with self._lock(user_id):
            loaded = self._loaded.setdefault((user_id, kind), _Loaded(None))
            loaded.dirty = False  # a write from now on marks it again
            table = MessageEmbedding if kind == "message" else Memory
            query = select(table.id, table.embedding, table.dims).where(
                table.user_id == user_id, table.id > loaded.last_row_id, table.model == self.model_name
            )
            if kind == "message":
                query = query.add_columns(MessageEmbedding.message_id, Message.created_at).join(
                    Message, Message.id == MessageEmbedding.message_id
                )
            else:
                query = query.add_columns(Memory.id, Memory.created_at).where(Memory.superseded_by.is_(None))
            async with self.db.engine.connect() as conn:
                rows = (await conn.execute(query.order_by(table.id))).all()
            loaded.checked = time.monotonic()
            if not rows:
                return loaded.index
            if loaded.index is None:
                loaded.index = VectorIndex(rows[-1].dims, quantize_above=self.quantize_above)
            dims = loaded.index.dims
            usable = [row for row in rows if row.dims == dims]
            if usable:
                matrix = np.empty((len(usable), dims), dtype=np.float32)
                for i, row in enumerate(usable):
                    matrix[i] = np.frombuffer(row.embedding, dtype="<f4")
                loaded.index.add([row[3] for row in usable], matrix, [row[4].timestamp() for row in usable], adopt=True)
            loaded.last_row_id = rows[-1].id
            return loaded.index

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
        loaded = self._loaded.get((user_id, kind))
        if loaded is not None and loaded.index is not None:
            loaded.index.remove(ids)


def _consume(task: asyncio.Task[VectorIndex | None]) -> None:
    """Retrieve a load's failure when every caller gave up on it, so it is logged once, not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("loading a memory index failed: %s", task.exception())
