"""Hybrid search over one user's messages and memories.

Cosine similarity over the user's in-memory vectors is fused with the
full-text rank by reciprocal rank fusion.  A similarity floor keeps noise out:
a result needs a cosine of at least ``floor``, or, when full-text search also
found it, at least ``text_floor`` (a literal word match is evidence the vector
alone may miss), or to contain every topic word of the query (``/memory
Lisbon`` finds the long memory that mentions Lisbon).  A question about
something never discussed returns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.models import Conversation, Message, User
from core.db.models_memory import Memory, MessageEmbedding
from core.memory import fts
from core.memory.store import MemoryStore
from core.memory.vectors import Kind

# The usual constant of reciprocal rank fusion (Cormack et al., 2009).
RRF_K = 60


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One thing found: a message or a memory, with when, where and who said it."""

    kind: Kind
    id: int
    text: str
    created_at: datetime
    platform: str
    speaker: str
    similarity: float
    score: float


@dataclass(frozen=True, slots=True)
class SearchOptions:
    floor: float = 0.30
    text_floor: float = 0.25
    fusion: bool = True
    candidates: int = 50


class MemorySearch:
    """Finds what a user said or is remembered by, across all their conversations and platforms."""

    def __init__(self, store: MemoryStore, *, options: SearchOptions | None = None) -> None:
        self.store = store
        self.options = options or SearchOptions()

    async def search(
        self,
        user_id: int,
        query: str,
        *,
        limit: int = 8,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: tuple[Kind, ...] = ("message", "memory"),
        timeout: float | None = None,
        options: SearchOptions | None = None,
    ) -> list[SearchHit]:
        """The best ``limit`` matches, best first; ``until`` is exclusive. Raises ModelError if embedding fails."""
        vector = (await self.store.embedder.embed([query], timeout=timeout))[0]
        return await self.search_vector(
            user_id, vector, query, limit=limit, since=since, until=until, kinds=kinds, options=options
        )

    async def search_vector(
        self,
        user_id: int,
        vector: np.ndarray,
        query: str,
        *,
        limit: int = 8,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: tuple[Kind, ...] = ("message", "memory"),
        options: SearchOptions | None = None,
    ) -> list[SearchHit]:
        """As :meth:`search`, with the query's vector given (no embedding call): ``query`` feeds full text."""
        opts = options or self.options
        start = since.timestamp() if since else None
        stop = until.timestamp() if until else None
        similarity: dict[tuple[Kind, int], float] = {}
        vector_ranked: list[tuple[Kind, int]] = []
        pooled: list[tuple[float, Kind, int]] = []
        indexes = {kind: await self.store.vectors(user_id, kind) for kind in kinds}
        for kind, index in indexes.items():
            if index is None or index.dims != len(vector):
                continue
            for hit in index.search(vector, opts.candidates, min_score=opts.text_floor, since=start, until=stop):
                similarity[(kind, hit.id)] = hit.score
                pooled.append((hit.score, kind, hit.id))
        vector_ranked = [(kind, item) for _, kind, item in sorted(pooled, key=lambda p: -p[0])]

        # One connection for the full-text query and reading the hits back: a checkout per
        # query is a measurable part of recall's cost before the first token.
        async with self.store.db.engine.connect() as conn:
            text_ranked: list[tuple[Kind, int]] = []
            complete: set[tuple[Kind, int]] = set()
            if opts.fusion:
                found = await fts.search(conn, user_id, query, opts.candidates, kinds=kinds)
                text_ranked = [(hit.kind, hit.id) for hit in found if hit.kind in kinds]  # type: ignore[misc]
                complete = {(hit.kind, hit.id) for hit in found if hit.all_terms}
                for key in text_ranked:
                    if key not in similarity:
                        index = indexes.get(key[0])
                        score = _score_of(index, key[1], vector) if index is not None else None
                        if score is not None:
                            similarity[key] = score

            from_text = set(text_ranked)
            fused: dict[tuple[Kind, int], float] = {}
            for ranking in (vector_ranked, text_ranked):
                for rank, key in enumerate(ranking):
                    fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
            kept = [
                key
                for key in fused
                if (key in complete and key in similarity) or _over_floor(key, similarity, from_text, opts)
            ]
            kept.sort(key=lambda key: (-fused[key], -similarity[key]))
            # All kept (at most two candidate lists): full-text hits are not yet filtered by date.
            hits = await self._read(conn, user_id, kept, since, until)
            out = [
                SearchHit(
                    kind, item, *hits[(kind, item)], similarity=similarity[(kind, item)], score=fused[(kind, item)]
                )
                for kind, item in kept
                if (kind, item) in hits
            ]
            return out[:limit]

    async def _read(
        self,
        conn: AsyncConnection,
        user_id: int,
        keys: list[tuple[Kind, int]],
        since: datetime | None,
        until: datetime | None,
    ) -> dict[tuple[Kind, int], tuple[str, datetime, str, str]]:
        """Text, time, platform and speaker of each hit, read back under the user's id (and date range)."""
        message_ids = [item for kind, item in keys if kind == "message"]
        memory_ids = [item for kind, item in keys if kind == "memory"]
        found: dict[tuple[Kind, int], tuple[str, datetime, str, str]] = {}
        if message_ids:
            query = (
                select(
                    Message.id,
                    Message.content,
                    Message.created_at,
                    Message.role,
                    Conversation.platform,
                    User.display_name,
                )
                .join(MessageEmbedding, MessageEmbedding.message_id == Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .outerjoin(User, User.id == Message.author_user_id)
                .where(
                    Message.id.in_(message_ids),
                    MessageEmbedding.user_id == user_id,
                    Message.deleted_at.is_(None),
                    Message.forgotten_at.is_(None),
                )
            )
            query = _in_range(query, Message.created_at, since, until)
            for row in await conn.execute(query):
                speaker = "assistant" if row.role == "assistant" else (row.display_name or "user")
                found[("message", row.id)] = (row.content, row.created_at, row.platform, speaker)
        if memory_ids:
            query = (
                select(Memory.id, Memory.text, Memory.created_at, Conversation.platform)
                .outerjoin(Message, Message.id == Memory.source_message_id)
                .outerjoin(Conversation, Conversation.id == Message.conversation_id)
                .where(Memory.id.in_(memory_ids), Memory.user_id == user_id, Memory.superseded_by.is_(None))
            )
            query = _in_range(query, Memory.created_at, since, until)
            for row in await conn.execute(query):
                found[("memory", row.id)] = (row.text, row.created_at, row.platform or "", "memory")
        return found


def _in_range(query, column, since: datetime | None, until: datetime | None):  # type: ignore[no-untyped-def]
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def _score_of(index, item_id: int, vector: np.ndarray) -> float | None:  # type: ignore[no-untyped-def]
    return index.score(item_id, vector) if item_id in index else None


def _over_floor(
    key: tuple[Kind, int],
    similarity: dict[tuple[Kind, int], float],
    from_text: set[tuple[Kind, int]],
    opts: SearchOptions,
) -> bool:
    return similarity.get(key, -1.0) >= (opts.text_floor if key in from_text else opts.floor)
