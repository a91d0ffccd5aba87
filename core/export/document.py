"""Plain input types of the day export: no database, no platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class StoredImage:
    """An image kept with a message: the user's attachment or one the assistant made.

    `key` names it within the day (for example the attachment's storage key); it is
    the only way the PDF can reach the bytes.
    """

    key: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class DayMessage:
    """One message of the day as the user saw it."""

    at: datetime  # time zone aware
    speaker: str
    role: Role
    text: str
    images: list[StoredImage] = field(default_factory=list)
    cut_off: bool = False  # an answer that stopped before it was finished: the PDF says so

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("DayMessage.at must be time zone aware")
        if self.role not in ("user", "assistant"):
            raise ValueError(f"DayMessage.role must be 'user' or 'assistant', not {self.role!r}")


@dataclass(frozen=True)
class DayDocument:
    """One user's day: the summary first, then every message in time order."""

    day: date
    assistant_name: str
    timezone: tzinfo
    summary_markdown: str
    messages: list[DayMessage] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The document's title, also the Drive file name without `.pdf`: `YYYY-MM-DD <assistant name>`."""
        return f"{self.day.isoformat()} {self.assistant_name}"

    @property
    def file_name(self) -> str:
        """`YYYY-MM-DD <assistant name>.pdf`."""
        return f"{self.title}.pdf"
