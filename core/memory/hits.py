"""Reading search hits back from the database: their text, date, speaker, and the turns around them.

Everything is read under the searching user's id, so a row another process
deleted (or another user's row) never comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db.models import Conversation, Message, User
from core.db.models_memory import Memory, MessageEmbedding
from core.memory.vectors import Kind

# A hit shorter than this (in words) comes with the turn before it: "yes, last Saturday" says little alone.
SHORT_HIT_WORDS = 6
# Neighbouring turns are cut to this many characters.
NEIGHBOUR_CHARS = 240
_QUESTION_START = re.compile(
    r"^(what|when|where|who|whom|whose|which|why|how|do|does|did|is|are|was|were|can|could|would|should|will|"
    r"have|has|any|remind me)\b",
    re.IGNORECASE,
)
# Where a message's earlier clause ends: what stands before it was told, not asked.
_CLAUSE_BREAK = re.compile(r"[,.;:!…]\s")
# Words a clause before a question may have and still only lead into it ("hey,", "ok so,").
_GREETING_WORDS = 3


@dataclass(frozen=True, slots=True)
class Turn:
    """A message next to a hit, shown so the hit can be understood."""

    text: str
    created_at: datetime
    speaker: str


@dataclass(frozen=True, slots=True)
class Row:
    """What search needs of a candidate: its text, time, place, speaker and whether it asks something."""

    text: str
    created_at: datetime
    platform: str
    speaker: str
    conversation_id: int | None
    role: str

    @property
    def question(self) -> bool:
        return self.role == "user" and looks_like_question(self.text)


def looks_like_question(text: str) -> bool:
    """Whether ``text`` asks rather than tells: it opens like a question, or is one clause ending in "?".

    "had the interview this morning, I think it went ok?" tells (the question mark closes a
    remark after the news), so it keeps its full weight; "you got the job?" asks.
    """
    stripped = text.strip()
    if _QUESTION_START.match(stripped):
        return len(stripped.split()) <= 25
    if not stripped.endswith("?"):
        return False
    breaks = list(_CLAUSE_BREAK.finditer(stripped))
    if not breaks:
        return True
    told, asked = stripped[: breaks[-1].start()], stripped[breaks[-1].end() :]
    # "hey, what's my dog called?" asks; "my nephew turns 12 on the 14th, any present ideas?" tells first.
    return len(told.split()) <= _GREETING_WORDS and bool(_QUESTION_START.match(asked))


async def read_rows(
    conn: AsyncConnection,
    user_id: int,
    keys: list[tuple[Kind, int]],
    since: datetime | None,
    until: datetime | None,
) -> dict[tuple[Kind, int], Row]:
    """The rows behind ``keys`` that are still the user's and inside the date range (``until`` exclusive)."""
    message_ids = [item for kind, item in keys if kind == "message"]
    memory_ids = [item for kind, item in keys if kind == "memory"]
    found: dict[tuple[Kind, int], Row] = {}
    if message_ids:
        query = (
            select(
                Message.id,
                Message.content,
                Message.created_at,
                Message.role,
                Message.conversation_id,
                Conversation.platform,
                User.display_name,
            )
            .join(MessageEmbedding, MessageEmbedding.message_id == Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(User, User.id == Message.author_user_id)
            .where(
                Message.id.in_(message_ids),
                # "+ 0" keeps SQLite's planner off the (user_id, id) index, which it would otherwise walk
                # through all of the user's 100,000 rows instead of looking these few up by id.
                MessageEmbedding.user_id + 0 == user_id,
                Message.deleted_at.is_(None),
                Message.forgotten_at.is_(None),
            )
        )
        query = _in_range(query, Message.created_at, since, until)
        for row in await conn.execute(query):
            found[("message", row.id)] = Row(
                row.content,
                row.created_at,
                row.platform,
                _speaker(row.role, row.display_name),
                row.conversation_id,
                row.role,
            )
    if memory_ids:
        query = (
            select(Memory.id, Memory.text, Memory.created_at, Conversation.platform)
            .outerjoin(Message, Message.id == Memory.source_message_id)
            .outerjoin(Conversation, Conversation.id == Message.conversation_id)
            .where(Memory.id.in_(memory_ids), Memory.user_id == user_id, Memory.superseded_by.is_(None))
        )
        query = _in_range(query, Memory.created_at, since, until)
        for row in await conn.execute(query):
            found[("memory", row.id)] = Row(row.text, row.created_at, row.platform or "", "memory", None, "memory")
    return found


async def neighbours(
    conn: AsyncConnection, user_id: int, hits: list[tuple[int, Row]]
) -> dict[int, tuple[Turn | None, Turn | None]]:
    """The turns before and after each message hit (by id), when they make it understandable.

    A short hit or the assistant's reply comes with the turn before it (what it answers);
    a question comes with the turn after it (its answer).  Only the user's own turns and
    the assistant's are shown: in a shared thread, another person's words stay theirs.
    One statement for every hit (one trip to the database, however many hits).
    """
    parts = []
    for message_id, row in hits:
        if row.conversation_id is None:
            continue
        if row.role == "assistant" or len(row.text.split()) < SHORT_HIT_WORDS:
            parts.append(_next_to(row.conversation_id, message_id, older=True))
        if row.question:
            parts.append(_next_to(row.conversation_id, message_id, older=False))
    found: dict[int, tuple[Turn | None, Turn | None]] = {}
    if not parts:
        return found
    for got in await conn.execute(union_all(*parts)):
        if got.role == "user" and got.author_user_id not in (None, user_id):
            continue  # another person's words in a shared thread stay theirs
        body = got.content if len(got.content) <= NEIGHBOUR_CHARS else got.content[:NEIGHBOUR_CHARS] + "…"
        turn = Turn(body, got.created_at, _speaker(got.role, got.display_name))
        before, after = found.get(got.hit, (None, None))
        found[got.hit] = (turn, after) if got.older else (before, turn)
    return found


def _next_to(conversation_id: int, message_id: int, *, older: bool):  # type: ignore[no-untyped-def]
    """The message just before (or after) ``message_id`` in its conversation, as one part of a union."""
    nearest = (
        select(
            literal(message_id).label("hit"),
            literal(older).label("older"),
            Message.content,
            Message.created_at,
            Message.role,
            Message.author_user_id,
            User.display_name,
        )
        .outerjoin(User, User.id == Message.author_user_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.id < message_id if older else Message.id > message_id,
            Message.deleted_at.is_(None),
            Message.forgotten_at.is_(None),
            Message.role.in_(("user", "assistant")),
            Message.content != "",
        )
        .order_by(Message.id.desc() if older else Message.id)
        .limit(1)
        .subquery()
    )
    # Wrapped: SQLite allows no ORDER BY or LIMIT in the members of a compound SELECT.
    return select(nearest)


def _speaker(role: str, name: str | None) -> str:
    return "assistant" if role == "assistant" else (name or "user")


def _in_range(query, column, since: datetime | None, until: datetime | None):  # type: ignore[no-untyped-def]
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query
