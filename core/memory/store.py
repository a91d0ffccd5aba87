"""The memory store: message embeddings and remembered facts of each user.

Writes go to the database first; the in-memory indexes (core/memory/vectors.py)
pick new rows up at the next search and drop removed ones at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import and_, delete, func, or_, select, update

from core.clock import Clock
from core.db.database import Database
from core.db.models import Conversation, Message
from core.db.models_memory import Memory, MessageEmbedding
from core.memory import fts
from core.memory.embedder import Embedder, to_bytes
from core.memory.index import VectorIndex
from core.memory.records import MemoryRecord, Remembered, record_of
from core.memory.vectors import Kind, UserVectors

log = logging.getLogger(__name__)

INDEXED_ROLES = ("user", "assistant")


class MemoryStore:
    """Writes and reads a user's embeddings and memories; never another user's."""

    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        *,
        clock: Clock,
        dedup_threshold: float = 0.92,
        quantize_above: int = 4_096,
        index_budget_bytes: int = 2 * 1024**3,
        index_dir: str | Path | None = None,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.clock = clock
        self.dedup_threshold = dedup_threshold
        self.quantize_above = quantize_above
        self._vectors = UserVectors(
            db, embedder.name, quantize_above=quantize_above, budget_bytes=index_budget_bytes, spill_dir=index_dir
        )
        self._writers: dict[int, asyncio.Lock] = {}

    async def vectors(self, user_id: int, kind: Kind) -> VectorIndex | None:
        """The user's index of ``kind``, loaded or brought up to date; None while they have no vectors."""
        return await self._vectors.get(user_id, kind)

    @property
    def index_bytes(self) -> int:
        """Memory held by the loaded vector indexes (at most about the budget)."""
        return self._vectors.resident_bytes

    def loaded_users(self) -> set[int]:
        """Users whose vector indexes are in memory now."""
        return self._vectors.loaded_users()

    def forget_user(self, user_id: int) -> None:
        """Drop the cached indexes of ``user_id`` (after their data was deleted)."""
        self._vectors.forget_user(user_id)

    def _drop_from_index(self, user_id: int, kind: Kind, ids: Sequence[int]) -> None:
        self._vectors.drop(user_id, kind, ids)

    # -- messages ----------------------------------------------------------------------
    async def index_messages(self, user_id: int, message_ids: Sequence[int]) -> int:
        """Embed and full-text index these messages for ``user_id``; returns how many were indexed.

        A user message is only indexed for its author; empty, deleted or forgotten ones are skipped.
        """
        if not message_ids:
            return 0
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Message.id, Message.content)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Message.id.in_(message_ids),
                        _indexable(),
                        or_(
                            Message.role == "assistant",
                            func.coalesce(Message.author_user_id, Conversation.user_id) == user_id,
                        ),
                    )
                )
            ).all()
        return await self._write_embeddings(user_id, [(row.id, row.content) for row in rows])

    async def index_pending(self, user_id: int, *, limit: int = 512) -> int:
        """Bring the user's index level with their messages: new, edited, deleted, other model.

        Returns how many messages were embedded; call again while it returns ``limit``.
        """
        owned = or_(
            and_(Message.role == "user", func.coalesce(Message.author_user_id, Conversation.user_id) == user_id),
            and_(Message.role == "assistant", Conversation.user_id == user_id),
        )
        async with self.db.engine.connect() as conn:
            gone = (
                await conn.scalars(
                    select(MessageEmbedding.message_id)
                    .join(Message, Message.id == MessageEmbedding.message_id)
                    .where(
                        MessageEmbedding.user_id == user_id,
                        or_(Message.deleted_at.is_not(None), Message.forgotten_at.is_not(None), Message.content == ""),
                    )
                )
            ).all()
            stale = (
                await conn.execute(
                    select(Message.id, Message.content)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .outerjoin(MessageEmbedding, MessageEmbedding.message_id == Message.id)
                    .where(
                        owned,
                        _indexable(),
                        or_(
                            MessageEmbedding.id.is_(None),
                            and_(MessageEmbedding.user_id == user_id, MessageEmbedding.model != self.embedder.name),
                            and_(
                                MessageEmbedding.user_id == user_id,
                                Message.edited_at.is_not(None),
                                Message.edited_at > MessageEmbedding.indexed_at,
                            ),
                        ),
                    )
                    .order_by(Message.id)
                    .limit(limit)
                )
            ).all()
        if gone:
            await self.remove_messages(user_id, list(gone))
        return await self._write_embeddings(user_id, [(row.id, row.content) for row in stale])

    async def backfill(self, *, batch: int = 512) -> int:
        """Index every user's unindexed messages (history from before memory existed); returns how many."""
        async with self.db.engine.connect() as conn:
            owners = set((await conn.scalars(select(Conversation.user_id).distinct())).all())
            owners |= set(
                (
                    await conn.scalars(
                        select(Message.author_user_id).where(Message.author_user_id.is_not(None)).distinct()
                    )
                ).all()
            )
        total = 0
        for user_id in sorted(owners):
            while (done := await self.index_pending(user_id, limit=batch)) > 0:
                total += done
                if done < batch:
                    break
        return total

    async def remove_messages(self, user_id: int, message_ids: Sequence[int]) -> None:
        """Take these messages out of the user's indexes (the messages themselves stay)."""
        async with self.db.engine.begin() as conn:
            await conn.execute(
                delete(MessageEmbedding).where(
                    MessageEmbedding.user_id == user_id, MessageEmbedding.message_id.in_(message_ids)
                )
            )
            await fts.remove_rows(conn, [("message", message_id) for message_id in message_ids])
        self._drop_from_index(user_id, "message", message_ids)

    async def _write_embeddings(self, user_id: int, items: list[tuple[int, str]]) -> int:
        if not items:
            return 0
        vectors = await self.embedder.embed([content for _, content in items])
        now = self.clock()
        ids = [message_id for message_id, _ in items]
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(MessageEmbedding).where(MessageEmbedding.message_id.in_(ids)))
            await conn.execute(
                MessageEmbedding.__table__.insert(),
                [
                    {
                        "message_id": message_id,
                        "user_id": user_id,
                        "embedding": to_bytes(vector),
                        "dims": len(vector),
                        "model": self.embedder.name,
                        "indexed_at": now,
                    }
                    for (message_id, _), vector in zip(items, vectors, strict=True)
                ],
            )
            await fts.add_rows(conn, user_id, [("message", message_id, content) for message_id, content in items])
        self._vectors.mark_dirty(user_id, "message")
        return len(items)

    # -- memories ----------------------------------------------------------------------
    async def remember(
        self, user_id: int, text: str, *, source_message_id: int | None = None, replaces: int | None = None
    ) -> Remembered:
        """Store a fact about the user, merging it into a near-identical one or replacing a contradicted one."""
        text = " ".join(text.split())
        if not text:
            raise ValueError("a memory needs some text")
        vector = (await self.embedder.embed([text]))[0]
        # One writer per user, so two turns telling the same fact at once make one memory.
        async with self._writers.setdefault(user_id, asyncio.Lock()):
            return await self._remember(user_id, text, vector, source_message_id, replaces)

    async def _remember(
        self, user_id: int, text: str, vector: np.ndarray, source_message_id: int | None, replaces: int | None
    ) -> Remembered:
        index = await self.vectors(user_id, "memory")
        now = self.clock()
        values = {"text": text, "embedding": to_bytes(vector), "dims": len(vector), "model": self.embedder.name}
        target: int | None = None
        if replaces is None and index is not None and index.dims == len(vector):
            nearest = index.search(vector, 1, min_score=self.dedup_threshold)
            target = nearest[0].id if nearest else None
        async with self.db.engine.begin() as conn:
            if target is not None:
                await conn.execute(
                    update(Memory)
                    .where(Memory.id == target, Memory.user_id == user_id)
                    .values(**values, updated_at=now, source_message_id=source_message_id)
                )
                memory_id, action = target, "updated"
            else:
                memory_id = await conn.scalar(
                    Memory.__table__.insert().returning(Memory.id),
                    {
                        **values,
                        "user_id": user_id,
                        "source_message_id": source_message_id,
                        "created_at": now,
                        "updated_at": now,
                        "superseded_by": None,
                    },
                )
                action = "added"
                if replaces is not None:
                    replaced = await conn.execute(
                        update(Memory)
                        .where(Memory.id == replaces, Memory.user_id == user_id, Memory.superseded_by.is_(None))
                        .values(superseded_by=memory_id, updated_at=now)
                    )
                    if replaced.rowcount:
                        action = "replaced"
                        await fts.remove_rows(conn, [("memory", replaces)])
            await fts.add_rows(conn, user_id, [("memory", int(memory_id), text)])
            row = (await conn.execute(select(Memory).where(Memory.id == memory_id))).one()
        self._vectors.mark_dirty(user_id, "memory")
        if replaces is not None:
            self._drop_from_index(user_id, "memory", [replaces])
        if target is not None and index is not None:
            index.add([target], vector.reshape(1, -1), [row.created_at.timestamp()])
        return Remembered(record_of(row), action)

    async def list_memories(self, user_id: int) -> list[MemoryRecord]:
        """The user's current memories, newest first."""
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Memory)
                    .where(Memory.user_id == user_id, Memory.superseded_by.is_(None))
                    .order_by(Memory.updated_at.desc(), Memory.id.desc())
                )
            ).all()
        return [record_of(row) for row in rows]

    async def forget_memory(self, user_id: int, memory_id: int) -> bool:
        """Really delete one memory of the user (and the older versions it replaced)."""
        async with self.db.engine.begin() as conn:
            older = (
                await conn.scalars(
                    select(Memory.id).where(Memory.user_id == user_id, Memory.superseded_by == memory_id)
                )
            ).all()
            doomed = [memory_id, *older]
            result = await conn.execute(delete(Memory).where(Memory.user_id == user_id, Memory.id.in_(doomed)))
            await fts.remove_rows(conn, [("memory", item) for item in doomed])
        self._drop_from_index(user_id, "memory", doomed)
        return bool(result.rowcount)


def _indexable() -> object:
    return and_(
        Message.role.in_(INDEXED_ROLES),
        Message.deleted_at.is_(None),
        Message.forgotten_at.is_(None),
        Message.status != "streaming",
        Message.content != "",
    )
