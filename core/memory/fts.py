"""Full-text search over a user's indexed messages and memories, on SQLite and PostgreSQL.

SQLite: the FTS5 table ``memory_fts`` holds the text, with ``rowid = 2 * id``
for a message and ``2 * id + 1`` for a memory.  PostgreSQL: ``to_tsvector`` over
``messages.content`` (a GIN expression index) and ``memories.text``.  Either way
a query is an OR of the question's content words, ranked (BM25 / ``ts_rank_cd``).
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True, slots=True)
class TextHit:
    kind: str  # "message" or "memory"
    id: int
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
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL reads the text from its own tables through the expression index
    params = [{"rowid": _rowid(kind, item_id), "text": body, "user_id": user_id} for kind, item_id, body in rows]
    if not params:
        return
    await conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :rowid"), [{"rowid": p["rowid"]} for p in params])
    await conn.execute(text(f"INSERT INTO {FTS_TABLE} (rowid, text, user_id) VALUES (:rowid, :text, :user_id)"), params)


async def remove_rows(conn: AsyncConnection, rows: Iterable[tuple[str, int]]) -> None:
    """Drop ``(kind, id)`` rows from the full-text index."""
    if conn.dialect.name != "sqlite":
        return
    params = [{"rowid": _rowid(kind, item_id)} for kind, item_id in rows]
    if params:
        await conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :rowid"), params)


async def remove_user(conn: AsyncConnection, user_id: int) -> None:
    """Drop every full-text row of ``user_id``."""
    if conn.dialect.name == "sqlite":
        await conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE user_id = :user_id"), {"user_id": user_id})


async def search(
    conn: AsyncConnection,
    user_id: int,
    query: str,
    limit: int,
    *,
    kinds: Sequence[str] = ("message", "memory"),
) -> list[TextHit]:
    """The user's messages and/or memories (``kinds``) matching any content word of ``query``, best first.

    ``all_terms`` marks the hits that contain every content word of the query.
    The ``limit`` applies to the kinds asked for: memories are not crowded out by messages.
    """
    words = content_words(query)
    if not words or not kinds:
        return []
    if conn.dialect.name == "sqlite":
        # The kind is the rowid's parity (see _rowid).
        only = "" if len(set(kinds)) > 1 else f" AND rowid % 2 = {1 if kinds[0] == 'memory' else 0}"
        # One statement (one trip to the database thread): the hits of any word, each flagged
        # when it also holds every word.
        statement = text(
            f"SELECT rowid, rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :every "
            f"AND user_id = :user_id) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :anyof AND user_id = :user_id{only} "
            f"ORDER BY bm25({FTS_TABLE}) LIMIT :limit"
        )
        quoted = [f'"{word}"' for word in words]
        found = await conn.execute(
            statement,
            {"anyof": " OR ".join(quoted), "every": " AND ".join(quoted), "user_id": user_id, "limit": limit},
        )
        return [_from_rowid(int(rowid), bool(complete)) for rowid, complete in found]
    parts = []
    if "message" in kinds:
        parts.append(_PG_MESSAGES)
    if "memory" in kinds:
        parts.append(_PG_MEMORIES)
    rows = await conn.execute(
        text(
            f"SELECT kind, id, complete FROM ({' UNION ALL '.join(parts)}) AS hits ORDER BY rank DESC, id DESC LIMIT :limit"
        ),
        {"anyof": " or ".join(words), "allof": " ".join(words), "user_id": user_id, "limit": limit},
    )
    return [TextHit(str(row[0]), int(row[1]), bool(row[2])) for row in rows]


_PG_MESSAGES = f"""
                SELECT 'message' AS kind, m.id AS id,
                       ts_rank_cd(to_tsvector('{PG_TS_CONFIG}', m.content), q.query) AS rank,
                       to_tsvector('{PG_TS_CONFIG}', m.content) @@ q2.every AS complete
                FROM messages m
                JOIN message_embeddings e ON e.message_id = m.id,
                     websearch_to_tsquery('{PG_TS_CONFIG}', :anyof) AS q(query),
                     plainto_tsquery('{PG_TS_CONFIG}', :allof) AS q2(every)
                WHERE e.user_id = :user_id AND to_tsvector('{PG_TS_CONFIG}', m.content) @@ q.query
"""
_PG_MEMORIES = f"""
                SELECT 'memory' AS kind, r.id AS id, ts_rank_cd(to_tsvector('{PG_TS_CONFIG}', r.text), q.query) AS rank,
                       to_tsvector('{PG_TS_CONFIG}', r.text) @@ q2.every AS complete
                FROM memories r,
                     websearch_to_tsquery('{PG_TS_CONFIG}', :anyof) AS q(query),
                     plainto_tsquery('{PG_TS_CONFIG}', :allof) AS q2(every)
                WHERE r.user_id = :user_id AND r.superseded_by IS NULL
                  AND to_tsvector('{PG_TS_CONFIG}', r.text) @@ q.query
"""


def _rowid(kind: str, item_id: int) -> int:
    return 2 * item_id + (1 if kind == "memory" else 0)


def _from_rowid(rowid: int, complete: bool) -> TextHit:
    return TextHit("memory" if rowid % 2 else "message", rowid // 2, complete)


def kinds(hits: Sequence[TextHit], kind: str) -> list[int]:
    return [hit.id for hit in hits if hit.kind == kind]
