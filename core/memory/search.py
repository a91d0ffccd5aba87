"""Hybrid search over one user's messages and memories.

Two inputs propose candidates: full text (the share of the query's word weight a
row holds, names and rare words weighing most; core/memory/fts.py) and the
cosine similarity of the vectors.  core/memory/fusion.py decides what counts as
found and the order.  Messages the model already sees (``InView``: the current
question and the conversation's window) never take a result slot; identical lines
take one; a short hit or a reply comes with the turn before it, a question with
the turn after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.memory import fts
from core.memory.fusion import Candidate, Mode, SearchOptions, rank
from core.memory.hits import Row, Turn, neighbours, read_rows
from core.memory.store import MemoryStore
from core.memory.vectors import Kind

__all__ = ["InView", "MemorySearch", "Mode", "SearchHit", "SearchOptions"]


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
    before: Turn | None = None  # the turn before, when the hit needs it to be understood
    after: Turn | None = None  # the turn after (the answer to a question)


@dataclass(frozen=True, slots=True)
class InView:
    """What the model already sees: this conversation's messages from ``first_id`` on."""

    conversation_id: int
    first_id: int


class MemorySearch:
    """Finds what a user said or is remembered by, across all their conversations and platforms."""

    def __init__(self, store: MemoryStore, *, options: SearchOptions | None = None) -> None:
        self.store = store
        self.options = options or SearchOptions()
        self.word_counts = fts.WordCounts()

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
        in_view: InView | None = None,
    ) -> list[SearchHit]:
        """The best ``limit`` matches, best first; ``until`` is exclusive. Raises ModelError if embedding fails."""
        vector = (await self.store.embedder.embed([query], timeout=timeout))[0]
        return await self.search_vector(
            user_id, vector, query, limit=limit, since=since, until=until, kinds=kinds, options=options, in_view=in_view
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
        in_view: InView | None = None,
    ) -> list[SearchHit]:
        """As :meth:`search`, with the query's vector given (no embedding call): ``query`` feeds full text."""
        opts = options or self.options
        start = since.timestamp() if since else None
        stop = until.timestamp() if until else None
        similarity: dict[tuple[Kind, int], float] = {}
        pooled: list[tuple[float, Kind, int]] = []
        indexes = {kind: await self.store.vectors(user_id, kind) for kind in kinds}
        documents = 0
        for kind, index in indexes.items():
            if index is None or index.dims != len(vector):
                continue
            documents += len(index)
            if opts.mode == "text":
                continue
            for hit in index.search(vector, opts.candidates, since=start, until=stop):
                similarity[(kind, hit.id)] = hit.score
                pooled.append((hit.score, kind, hit.id))
        keys = [(kind, item) for _, kind, item in sorted(pooled, key=lambda p: -p[0])]

        # One connection for the full-text query and reading the hits back: a checkout per
        # query is a measurable part of recall's cost before the first token.
        async with self.store.db.engine.connect() as conn:
            held: dict[tuple[Kind, int], float] = {}
            if opts.mode != "vector":
                found = await fts.search(
                    conn, user_id, query, fts.PER_WORD * fts.MAX_TERMS, kinds=kinds, documents=documents,
                    counts=self.word_counts,
                )  # fmt: skip
                held = {(hit.kind, hit.id): hit.score for hit in found}  # type: ignore[misc]
                keys += [(hit.kind, hit.id) for hit in found[: opts.candidates]]  # type: ignore[misc]
            keys = list(dict.fromkeys(keys))
            if opts.mode != "text":  # full text alone knows no cosine
                for key in keys:
                    if key not in similarity:
                        index = indexes.get(key[0])
                        score = index.score(key[1], vector) if index is not None and key[1] in index else None
                        similarity[key] = score if score is not None else 0.0
            rows = await read_rows(conn, user_id, keys, since, until)
            candidates = [
                Candidate(key, held.get(key, 0.0), similarity.get(key, 0.0), row.question, _said(row.text))
                for key in keys
                if (row := rows.get(key)) is not None and not _seen(key, row, in_view)
            ]
            chosen = _distinct([(score, c.key, rows[c.key]) for score, c in rank(candidates, opts)])[:limit]
            around = {}
            if opts.neighbours:
                around = await neighbours(
                    conn, user_id, [(item, row) for _, (kind, item), row in chosen if kind == "message"]
                )
            out = []
            for score, (kind, item), row in chosen:
                before, after = around.get(item, (None, None)) if kind == "message" else (None, None)
                out.append(
                    SearchHit(
                        kind, item, row.text, row.created_at, row.platform, row.speaker,
                        similarity=similarity.get((kind, item), 0.0), score=score, before=before, after=after,
                    )
                )  # fmt: skip
            return out


def _distinct(ranked: list[tuple[float, tuple[Kind, int], Row]]) -> list[tuple[float, tuple[Kind, int], Row]]:
    """The best of each text only: "haha same" said twenty times is one result, not twenty."""
    seen: set[str] = set()
    out = []
    for entry in ranked:
        said = _said(entry[2].text)
        if said not in seen:
            seen.add(said)
            out.append(entry)
    return out


def _said(text: str) -> str:
    """A line as compared for sameness: case and spacing aside."""
    return " ".join(text.lower().split())


def _seen(key: tuple[Kind, int], row: Row, in_view: InView | None) -> bool:
    """Whether the model already sees this message in its context (never worth a result slot)."""
    return (
        in_view is not None
        and key[0] == "message"
        and row.conversation_id == in_view.conversation_id
        and key[1] >= in_view.first_id
    )
