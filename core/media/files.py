"""The bytes of images users send and the assistant makes, kept in the database with their messages.

The daily PDF shows them, and ``look_at_image`` can look at one again later
by its reference (``image 12``); a user can only ever reach their own files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select

from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_files import StoredFile

_REFERENCE = re.compile(r"(?:image|file)?\s*#?(\d{1,12})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: int
    message_id: int | None
    kind: str
    source: str
    filename: str
    content_type: str
    data: bytes

    @property
    def reference(self) -> str:
        return reference_of(self.id)


def reference_of(file_id: int) -> str:
    """How a stored image is named to the model and the user."""
    return f"image {file_id}"


class StoredFiles:
    """Saves and finds stored files, always for one user."""

    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    async def save(
        self,
        *,
        user_id: int,
        message_id: int | None,
        kind: str,
        source: str,
        filename: str,
        content_type: str,
        data: bytes,
    ) -> int:
        """Store one file; returns its id."""
        async with self.db.engine.begin() as writer:
            file_id = await writer.scalar(
                insert(StoredFile).returning(StoredFile.id),
                {
                    "user_id": user_id,
                    "message_id": message_id,
                    "kind": kind,
                    "source": source,
                    "filename": filename[:255],
                    "content_type": content_type[:100],
                    "size": len(data),
                    "data": data,
                    "created_at": self.clock(),
                },
            )
        assert file_id is not None
        return int(file_id)

    async def load_image(self, user_id: int, reference: str) -> bytes | None:
        """The bytes of this user's image named by ``reference`` ("image 12", "12"), or None."""
        match = _REFERENCE.search(reference)
        if match is None:
            return None
        async with self.db.engine.connect() as reader:
            return await reader.scalar(
                select(StoredFile.data).where(
                    StoredFile.id == int(match.group(1)), StoredFile.user_id == user_id, StoredFile.kind == "image"
                )
            )

    async def for_messages(self, message_ids: Sequence[int]) -> list[FileRecord]:
        """The files attached to these messages, in storing order."""
        if not message_ids:
            return []
        async with self.db.engine.connect() as reader:
            rows = await reader.execute(
                select(
                    StoredFile.id,
                    StoredFile.message_id,
                    StoredFile.kind,
                    StoredFile.source,
                    StoredFile.filename,
                    StoredFile.content_type,
                    StoredFile.data,
                )
                .where(StoredFile.message_id.in_(list(message_ids)))
                .order_by(StoredFile.id)
            )
            return [FileRecord(*row) for row in rows]
