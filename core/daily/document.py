"""The day's messages and stored images as the export's DayDocument; the PDF cached on disk."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from core.daily.day import DayEntry
from core.export import DayDocument, DayMessage, StoredImage
from core.media.files import StoredFiles

log = logging.getLogger(__name__)


async def day_document(
    entries: Sequence[DayEntry],
    files: StoredFiles,
    *,
    day: date,
    tz: ZoneInfo,
    summary: str,
    user_name: str,
    assistant_name: str,
) -> DayDocument:
    """Every message with its images (the user's and the ones the assistant made), summary first."""
    images: dict[int, list[StoredImage]] = defaultdict(list)
    for record in await files.for_messages([e.id for e in entries]):
        if record.kind == "image" and record.message_id is not None:
            images[record.message_id].append(
                StoredImage(f"{record.id}-{record.filename}", record.content_type, record.data)
            )
    messages = [
        DayMessage(
            at=entry.created_at,
            speaker=(user_name or "You") if entry.role == "user" else assistant_name,
            role="user" if entry.role == "user" else "assistant",
            text=entry.content,
            images=images.get(entry.id, []),
            cut_off=entry.cut_off,
        )
        for entry in entries
        if entry.content.strip() or images.get(entry.id)
    ]
    return DayDocument(day=day, assistant_name=assistant_name, timezone=tz, summary_markdown=summary, messages=messages)


class PdfCache:
    """Rendered PDFs kept under a directory between the render and the post steps.

    Only a cache: a process that resumes a day another process rendered (or after the
    file was removed) renders it again from the stored summary and the stored messages.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, user_id: int, day: date) -> Path:
        return self.directory / str(user_id) / f"{day.isoformat()}.pdf"

    def load(self, user_id: int, day: date) -> bytes | None:
        """The cached PDF, or None."""
        try:
            return self._path(user_id, day).read_bytes()
        except OSError:
            return None

    def save(self, user_id: int, day: date, data: bytes) -> None:
        """Keep the PDF (written to a temporary name first, so a reader never sees half a file)."""
        path = self._path(user_id, day)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as handle:
                handle.write(data)
            os.replace(handle.name, path)
        except OSError as exc:  # the next step renders again; losing the cache loses nothing
            log.warning("could not keep the PDF of user %s day %s: %s", user_id, day, exc)

    def forget_user(self, user_id: int) -> None:
        """Remove every cached PDF of the user (``/forget-me``)."""
        shutil.rmtree(self.directory / str(user_id), ignore_errors=True)

    def drop(self, user_id: int, day: date) -> None:
        """Forget the cached PDF once the day is posted."""
        try:
            self._path(user_id, day).unlink(missing_ok=True)
        except OSError:
            pass
