"""Tables of long-term memory: message embeddings and remembered facts.

Full-text search lives outside the ORM metadata on purpose: ``memory_fts`` is an
FTS5 virtual table on SQLite (migration 0003) and a table of stored tsvectors on
PostgreSQL (migration 0014), both keyed ``rowid = 2 * message id`` or
``2 * memory id + 1``.  :func:`include_object` keeps it out of schema comparisons.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models import Base, utcnow

FTS_TABLE = "memory_fts"
# The text search configuration of the PostgreSQL index; queries must use the same.
PG_TS_CONFIG = "english"


class MessageEmbedding(Base):
    """The embedding of one stored message, owned by the user it belongs to.

    A re-indexed message gets a new row (delete + insert), so processes that
    append rows with a higher ``id`` to their in-memory index see the change.
    """

    __tablename__ = "message_embeddings"
    __table_args__ = (Index("ix_message_embeddings_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32
    dims: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(100))
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Memory(Base):
    """A durable fact about a user ("my sister is Ana"), with its own embedding.

    A contradicted memory stays, with ``superseded_by`` pointing at its
    replacement; ``/memory forget`` really deletes the row.
    """

    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    dims: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(100))
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("memories.id", ondelete="SET NULL"))


class AnswerMemory(Base):
    """A memory recall put into the context before an answer: which memories shaped it, best first.

    The text is not copied: a forgotten memory leaves the answer's list with its row.
    """

    __tablename__ = "answer_memories"
    __table_args__ = (Index("ix_answer_memories_memory_id", "memory_id"),)

    answer_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    memory_id: Mapped[int] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: leave the full-text structures made by hand out of autogenerate."""
    if type_ == "table" and name and name.startswith(FTS_TABLE):
        return False
    if type_ == "index" and name and name.startswith("ix_memory_fts"):
        return False
    return True
