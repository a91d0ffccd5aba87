"""What a platform offers the renderer: a :class:`Surface`, its limits, and the errors its calls raise.

A surface is one place an answer is shown (a DM channel, a thread) as one
platform sees it.  Each platform adapter implements it; the renderers
(:mod:`adapters.render`) and one-shot delivery (:mod:`adapters.delivery`) only
ever speak to it, and tell a refusal to wait (:class:`RateLimited`) from one
that is final or means the message is gone (:class:`DeliveryError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from adapters.budget import RateBudget
from adapters.rate_window import SlidingWindow
from core.buttons import Button
from core.messenger import DeliveryError
from core.types import OutgoingFile


class RateLimited(Exception):
    """The platform refused a call with a rate limit; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.2f}s")
        self.retry_after = retry_after


# A refusal for another reason is the core's one DeliveryError (``gone``: the message no longer exists;
# not ``retryable``: trying again cannot help, so the call is not repeated).
__all__ = ["ButtonSurface", "DeliveryError", "RateLimited", "Surface", "SurfaceLimits"]


@dataclass(frozen=True, slots=True)
class SurfaceLimits:
    """What a platform allows and how it shows a streaming answer."""

    max_chars: int
    marker: str = " ▌"
    placeholder: str = "▌"
    reserve: int = 160  # room kept in each message for the marker, a status line or an error note
    # Seconds to wait for the first text before posting a placeholder even when the budget is free:
    # for platforms whose edits are scarcer than posts (Slack), the first text is best posted itself.
    first_text_wait: float = 0.0
    # Seconds: when the final edit would wait longer for its budget, the finished text is posted anew and
    # the streaming message deleted (for platforms whose deletions and posts are counted apart from edits,
    # like Slack's chat.update for the whole workspace); 0: never.
    repost_final: float = 0.0


class Surface(Protocol):
    """One place an answer is rendered into (a DM channel, a thread), as a platform sees it."""

    limits: SurfaceLimits
    budget: RateBudget

    def windows(self, action: str) -> Sequence[SlidingWindow]:
        """The rate windows a call counts against: ``post``, ``edit``, ``delete``, ``upload`` or ``typing``."""
        ...

    def routine_interval(self) -> float:
        """Seconds to leave between two routine edits of one answer."""
        ...

    def format_text(self, markdown: str) -> str:
        """The model's Markdown in the platform's own markup."""
        ...

    def format_status(self, status: str) -> str: ...

    def format_note(self, note: str) -> str: ...

    async def post(self, text: str) -> str:
        """Post a new message; returns its platform id."""
        ...

    async def edit(self, message_id: str, text: str) -> None: ...

    async def delete(self, message_id: str) -> None:
        """Delete one of our messages (only ever one that shows no answer text)."""
        ...

    async def upload(self, file: OutgoingFile) -> None: ...

    async def typing(self) -> None: ...


@runtime_checkable
class ButtonSurface(Protocol):
    """A surface that can show buttons under one of its messages (see :mod:`core.buttons`)."""

    async def show_buttons(self, message_id: str, text: str, buttons: Sequence[Button]) -> None:
        """Show `buttons` under the message `message_id`, which shows `text` (formatted)."""
        ...
