"""Full-text search over a user's indexed messages and memories, on SQLite and PostgreSQL.

The table ``memory_fts`` has a row per indexed message (``rowid = 2 * id``) and
memory (``2 * id + 1``) with its owner: on SQLite an FTS5 table of the text, on
PostgreSQL the stored ``tsvector`` (GIN index, and (user_id, rowid)).  Both stem
(FTS5's porter tokenizer, PostgreSQL's ``english`` configuration).  Either way a
query is an OR of the question's content words, each bringing a bounded number
of rows, and a row scores the weight of the words it holds, as a share of the
query's: the same ranking on both databases.  A word weighs its BM25 inverse
document frequency squared, as in tf-idf's vector space, where the question and
the row both carry it: on one person's few hundred lines the plain logarithm puts a
word said ten times ("going") at 0.6 of a word never said, so a question whose
topic was never mentioned ("Did I ever go skydiving?") held 0.4 of its weight in
small talk; squared, 0.3, and a name or a rare word outweighs common ones further.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.models_memory import FTS_TABLE, PG_TS_CONFIG

_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no topic: a query made only of these matches nothing.
STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between both but by can
    could did do does doing down during each few for from further had has have having he her here hers herself him
    himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves tell know remember said say did ever anything
    something thing things told mention mentioned talk talked""".split()
)
MAX_TERMS = 16


# Rows each query word brings at most (its newest): bounds the work of a common word.
PER_WORD = 300
# A common word's rows are counted up to this many, for its weight.
COUNT_CAP = 2000


class WordCounts:
    """How many of a user's rows hold each common word, remembered a while: counting a word found in
    thousands of rows is the one unbounded-looking part of a search, and the count changes slowly."""

    def __init__(self, *, size: int = 4096, ttl: float = 600.0) -> None:
        self.size = size
        self.ttl = ttl
        self._counts: OrderedDict[tuple[int, str, tuple[str, ...]], tuple[int, float]] = OrderedDict()

    def get(self, user_id: int, word: str, kinds: Sequence[str]) -> int | None:
        """The remembered count, or None when unknown or older than ``ttl`` seconds."""
        key = (user_id, word, tuple(sorted(kinds)))
        found = self._counts.get(key)
        if found is None or time.monotonic() - found[1] > self.ttl:
            return None
        self._counts.move_to_end(key)
        return found[0]

    def put(self, user_id: int, word: str, kinds: Sequence[str], count: int) -> None:
        """Remember ``count`` for the word (the least recently used entry leaves past ``size``)."""
        self._counts[(user_id, word, tuple(sorted(kinds)))] = (count, time.monotonic())
        while len(self._counts) > self.size:
            self._counts.popitem(last=False)

    def forget_user(self, user_id: int) -> None:
        """Drop the counts of ``user_id`` (their data was deleted)."""
        for key in [key for key in self._counts if key[0] == user_id]:
            del self._counts[key]


@dataclass(frozen=True, slots=True)
class TextHit:
    kind: str  # "message" or "memory"
    id: int
    score: float = 0.0  # the share (0 to 1) of the query's word weight this row holds
    all_terms: bool = False


def content_words(query: str) -> list[str]:
    """The query's topic words, lower-cased, in order, without repeats or stopwords."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOPWORDS and len(word) > 1:
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


async def add_rows(conn: AsyncConnection, user_id: int, rows: Iterable[tuple[str, int, str]]) -> None:
    """Index ``(kind, id, text)`` rows for ``user_id`` (replacing earlier text of the same row)."""
    params = [{"rowid": _rowid(kind, item_id), "text": body, "user_id": user_id} for kind, item_id, body in rows]
    if not params:
        return
    await conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :rowid"), [{"rowid": p["rowid"]} for p in params])
    if conn.dialect.name == "sqlite":
        insert = f"INSERT INTO {FTS_TABLE} (rowid, text, user_id) VALUES (:rowid, :text, :user_id)"
    else:
        insert = (
            f"INSERT INTO {FTS_TABLE} (rowid, user_id, tsv) "
            f"VALUES (:rowid, :user_id, to_tsvector('{PG_TS_CONFIG}', :text))"
        )
    await conn.execute(text(insert), params)


async def remove_rows(conn: AsyncConnection, rows: Iterable[tuple[str, int]]) -> None:
    """Drop ``(kind, id)`` rows from the full-text index."""
    params = [{"rowid": _rowid(kind, item_id)} for kind, item_id in rows]
    if params:
        await conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :rowid"), params)


async def remove_user(conn: AsyncConnection, user_id: int) -> None:
    """Drop every full-text row of ``user_id``."""
    await conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE user_id = :user_id"), {"user_id": user_id})


async def search(
    conn: AsyncConnection,
    user_id: int,
    query: str,
    limit: int,
    *,
    kinds: Sequence[str] = ("message", "memory"),
    documents: int = 0,
    per_word: int = PER_WORD,
    counts: WordCounts | None = None,
) -> list[TextHit]:
    """The user's messages and/or memories (``kinds``) holding any content word of ``query``, best first.

    A hit's ``score`` is the share of the query's weight it holds: each word weighs its BM25
    inverse document frequency among the user's ``documents`` rows, squared, so a name or a rare word
    outweighs a common one, and a word the user never used still counts in the total (a question
    about Neptune asked of someone who never mentioned it matches little of itself).
    The work is bounded: each word brings at most its ``per_word`` newest rows (so a word found in
    half of 100,000 messages costs what a rare one does); such a capped word's frequency is counted
    up to ``COUNT_CAP`` (and remembered in ``counts``).  ``all_terms`` marks the hits that hold every word.
    """
    words = content_words(query)
    if not words or not kinds:
        return []
    found = await _rows_per_word(conn, user_id, words, kinds, per_word)
    common = [word for word, rows in zip(words, found, strict=True) if len(rows) >= per_word]
    known = {word: n for word in common if (n := counts.get(user_id, word, kinds) if counts else None) is not None}
    fresh = await _capped_counts(conn, user_id, [word for word in common if word not in known], kinds)
    if counts is not None:
        for word, n in fresh.items():
            counts.put(user_id, word, kinds, n)
    frequencies = {**known, **fresh}
    # Never fewer rows than a word was counted in (``documents`` comes from the vector index, which may lag).
    total_docs = max(documents, *frequencies.values(), *(len(rows) for rows in found), 1)
    weights = []
    for word, rows in zip(words, found, strict=True):
        frequency = frequencies.get(word, len(rows))
        weights.append(math.log(1.0 + (total_docs - frequency + 0.5) / (frequency + 0.5)) ** 2)
    whole = sum(weights) or 1.0
    held: dict[tuple[str, int], float] = {}
    matched: dict[tuple[str, int], int] = {}
    for weight, rows in zip(weights, found, strict=True):
        for key in rows:
            held[key] = held.get(key, 0.0) + weight
            matched[key] = matched.get(key, 0) + 1
    ranked = sorted(held, key=lambda key: (-held[key], -key[1]))[:limit]
    return [
        TextHit(kind, item, held[(kind, item)] / whole, matched[(kind, item)] == len(words)) for kind, item in ranked
    ]


async def _rows_per_word(
    conn: AsyncConnection, user_id: int, words: list[str], kinds: Sequence[str], per_word: int
) -> list[list[tuple[str, int]]]:
    """For each word, the keys of at most ``per_word`` of the user's newest rows holding it (stemmed)."""
    params: dict[str, object] = {"user_id": user_id, "cap": per_word}
    parts = []
    for i, word in enumerate(words):
        params[f"w{i}"] = _match(conn, word)
        parts.append(f"SELECT {i} AS w, rowid AS r FROM ({_newest(conn, i, kinds)} LIMIT :cap) AS p{i}")
    rows = await conn.execute(text(" UNION ALL ".join(parts)), params)
    found: list[list[tuple[str, int]]] = [[] for _ in words]
    for i, rowid in rows:
        hit = _from_rowid(int(rowid), False)
        found[int(i)].append((hit.kind, hit.id))
    return found


def _match(conn: AsyncConnection, word: str) -> str:
    """``word`` as the database's full-text query of one (stemmed) word."""
    return f'"{word}"' if conn.dialect.name == "sqlite" else word


def _newest(conn: AsyncConnection, i: int, kinds: Sequence[str]) -> str:
    """The user's rows holding word ``:w{i}``, newest first: both databases walk them in rowid order
    (FTS5 natively; PostgreSQL the (user_id, rowid) index for a common word, GIN for a rare one)."""
    # The kind is the rowid's parity (see _rowid).
    only = "" if len(set(kinds)) > 1 else f" AND rowid % 2 = {1 if kinds[0] == 'memory' else 0}"
    if conn.dialect.name == "sqlite":
        where = f"{FTS_TABLE} MATCH :w{i}"
    else:
        where = f"tsv @@ plainto_tsquery('{PG_TS_CONFIG}', :w{i})"
    return f"SELECT rowid FROM {FTS_TABLE} WHERE {where} AND user_id = :user_id{only} ORDER BY rowid DESC"


async def _capped_counts(conn: AsyncConnection, user_id: int, words: list[str], kinds: Sequence[str]) -> dict[str, int]:
    """How many of the user's rows hold each of these (common) words, counted up to ``COUNT_CAP``."""
    if not words:
        return {}
    params: dict[str, object] = {"user_id": user_id, "cap": COUNT_CAP}
    parts = []
    for i, word in enumerate(words):
        params[f"w{i}"] = _match(conn, word)
        parts.append(f"SELECT {i}, (SELECT count(*) FROM ({_newest(conn, i, kinds)} LIMIT :cap) AS c{i})")
    rows = await conn.execute(text(" UNION ALL ".join(parts)), params)
    return {words[int(i)]: int(n) for i, n in rows}


def _rowid(kind: str, item_id: int) -> int:
    return 2 * item_id + (1 if kind == "memory" else 0)


def _from_rowid(rowid: int, complete: bool) -> TextHit:
    return TextHit("memory" if rowid % 2 else "message", rowid // 2, all_terms=complete)


def kinds(hits: Sequence[TextHit], kind: str) -> list[int]:
    return [hit.id for hit in hits if hit.kind == kind]
