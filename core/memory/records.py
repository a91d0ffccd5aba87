"""Plain records of remembered facts, as the store hands them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    id: int
    text: str
    created_at: datetime
    updated_at: datetime
    source_message_id: int | None


@dataclass(frozen=True, slots=True)
class Remembered:
    """What :meth:`MemoryStore.remember` did: ``added``, ``updated`` (a duplicate) or ``replaced``."""

    memory: MemoryRecord
    action: str


def record_of(row: Any) -> MemoryRecord:
    """A record from a ``memories`` row."""
    return MemoryRecord(row.id, row.text, row.created_at, row.updated_at, row.source_message_id)
