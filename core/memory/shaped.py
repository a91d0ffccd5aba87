"""Which memories shaped an answer: what recall put into its context, recorded after the answer.

Recall (core/memory/recall.py) notes the memories that fit its budget for the answer
being written; :class:`RecordRecalledStep` stores them once the answer is stored (off
the path to the first word), and :func:`memories_behind` reads them back for the web
app and the API (:class:`ShapedAnswers` also reads the notes of an answer that just finished, so the
chat can list them under it at once).  Only ids are stored: a memory the person forgets leaves every
answer's list with it, and a memory replaced by a newer fact is still shown, marked.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from core.chat.steps import FinishedTurn
from core.db.database import Database
from core.db.models_memory import AnswerMemory, Memory

# Answers whose recalled memories wait to be stored (an answer that never finishes leaves its entry here).
_WAITING_ANSWERS = 4096


@dataclass(frozen=True, slots=True)
class RecalledMemory:
    """A memory that was in an answer's context."""

    id: int
    text: str
    created_at: datetime
    current: bool  # False once a newer fact replaced it


class RecalledForAnswers:
    """Recall's notes of which memories went into which answer, until they are stored."""

    def __init__(self, *, size: int = _WAITING_ANSWERS) -> None:
        self.size = size
        self._waiting: OrderedDict[int, tuple[int, ...]] = OrderedDict()

    def note(self, answer_message_id: int, memory_ids: tuple[int, ...]) -> None:
        """Remember that ``memory_ids`` (best first) are in the context of this answer."""
        self._waiting[answer_message_id] = memory_ids
        while len(self._waiting) > self.size:
            self._waiting.popitem(last=False)

    def waiting(self, answer_message_id: int) -> tuple[int, ...]:
        """The memory ids noted for this answer and not stored yet (empty when none)."""
        return self._waiting.get(answer_message_id, ())

    def stored(self, answer_message_id: int) -> None:
        """Forget the note: it is in the database now."""
        self._waiting.pop(answer_message_id, None)


class RecordRecalledStep:
    """After the answer is stored: record which memories recall put into its context."""

    name = "record-recalled-memories"

    def __init__(self, db: Database, recalled: RecalledForAnswers) -> None:
        self.db = db
        self.recalled = recalled

    async def after_answer(self, turn: FinishedTurn) -> None:
        """Store the noted memories of this answer (nothing when recall added none)."""
        answer = turn.facts.answer_message_id
        memory_ids = self.recalled.waiting(answer)
        if not memory_ids:
            return
        async with self.db.engine.begin() as conn:
            # Only memories still there: one forgotten between recall and now is not recorded.
            still = set(await conn.scalars(select(Memory.id).where(Memory.id.in_(memory_ids))))
            rows = [
                {"answer_message_id": answer, "memory_id": memory_id, "position": position}
                for position, memory_id in enumerate(memory_ids)
                if memory_id in still
            ]
            if rows:
                await conn.execute(insert(AnswerMemory), rows)
        self.recalled.stored(answer)


async def memories_behind(db: Database, user_id: int, answer_ids: list[int]) -> dict[int, list[RecalledMemory]]:
    """For each of these answers, the memories of ``user_id`` that shaped it, in recall's order.

    Answers without any are left out; another person's memories are never returned.
    """
    if not answer_ids:
        return {}
    query = (
        select(AnswerMemory.answer_message_id, Memory.id, Memory.text, Memory.created_at, Memory.superseded_by)
        .join(Memory, Memory.id == AnswerMemory.memory_id)
        .where(AnswerMemory.answer_message_id.in_(answer_ids), Memory.user_id == user_id)
        .order_by(AnswerMemory.answer_message_id, AnswerMemory.position)
    )
    found: dict[int, list[RecalledMemory]] = {}
    async with db.engine.connect() as conn:
        for row in await conn.execute(query):
            found.setdefault(row.answer_message_id, []).append(
                RecalledMemory(row.id, row.text, row.created_at, row.superseded_by is None)
            )
    return found


class ShapedAnswers:
    """Which memories shaped an answer, for the web app: recorded ones, and the notes not recorded yet."""

    def __init__(self, db: Database, recalled: RecalledForAnswers) -> None:
        self.db = db
        self.recalled = recalled

    async def of_answer(self, user_id: int, answer_id: int) -> list[RecalledMemory]:
        """The memories of ``user_id`` that shaped this answer, in recall's order, whether recorded yet or not
        (when an answer finishes, its record is still being written)."""
        noted = self.recalled.waiting(answer_id)
        if not noted:
            return (await memories_behind(self.db, user_id, [answer_id])).get(answer_id, [])
        query = select(Memory.id, Memory.text, Memory.created_at, Memory.superseded_by).where(
            Memory.id.in_(noted), Memory.user_id == user_id
        )
        async with self.db.engine.connect() as conn:
            found = {
                r.id: RecalledMemory(r.id, r.text, r.created_at, r.superseded_by is None)
                for r in await conn.execute(query)
            }
        return [found[memory_id] for memory_id in noted if memory_id in found]
