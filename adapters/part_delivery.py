"""Posting one part of a scheduled post (a text, or a file) so that a retry never shows it twice.

Every call carries the part's idempotency key (:class:`core.outbound.OutboundPart`):
Discord gets it as the message nonce (Discord returns the message it already made
for a nonce it saw a few minutes before), Slack in the message metadata. When an
earlier try may have reached the platform (the process died or was stopped
before it recorded the answer), the bot's own messages since that try are read
back first: a text piece found by its key (or, where the platform does not give
keys back, by its exact text) and a file found by its name are not sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from adapters.budget import RateBudget
from adapters.delivery import not_delivered
from adapters.rate_window import SlidingWindow
from adapters.render import StreamRenderer
from adapters.surface import Surface, SurfaceLimits
from core.buttons import Button
from core.messenger import DeliveryError
from core.outbound import OutboundPart
from core.types import OutgoingFile


@dataclass(frozen=True, slots=True)
class OwnPost:
    """One of the bot's messages, as read back: its id, text, file names and idempotency key (when kept)."""

    id: str
    text: str
    filenames: tuple[str, ...] = ()
    key: str | None = None


class KeyedSurface(Surface, Protocol):
    """A surface whose posts can carry an idempotency key and whose own posts can be read back."""

    async def post_keyed(self, text: str, key: str, buttons: Sequence[Button] = ()) -> str:
        """Post with `key` (and `buttons` under it); returns the message id (the same message when the key
        was seen just before)."""
        ...

    async def upload_keyed(self, file: OutgoingFile, key: str) -> str:
        """Upload with `key`; returns the message id, or "" when the platform does not say."""
        ...

    async def own_posts_since(self, since: datetime) -> list[OwnPost] | None:
        """The bot's messages here from about `since` on; None when the platform cannot say now."""
        ...


def piece_key(key: str, index: int) -> str:
    """The key of the `index`-th message a text is split into."""
    return f"{key}.{index}"


async def deliver_part(surface: KeyedSurface, part: OutboundPart, *, earlier_try: datetime | None) -> list[str]:
    """Post `part` here, or only what an earlier try (begun at `earlier_try`) did not; returns its message ids.

    Raises :class:`core.messenger.DeliveryError` when it could not be posted, or when the
    earlier try's posts could not be read back (sending blindly might show it twice).
    """
    seen: list[OwnPost] = []
    if earlier_try is not None:
        found = await surface.own_posts_since(earlier_try)
        if found is None:
            raise DeliveryError("could not check what an earlier try already posted", retryable=True)
        seen = found
    if part.file is not None:
        return await _file(surface, part.file, part.key, seen)
    renderer = StreamRenderer(_Keyed(surface, part.key, 0))
    pieces = renderer.complete_texts(part.text)
    posted: list[str] = []
    for index, piece in enumerate(pieces):
        hit = next((m for m in seen if _same(m, piece_key(part.key, index), piece)), None)
        if hit is None:
            break
        posted.append(hit.id)
    if len(posted) == len(pieces):
        return posted
    renderer = StreamRenderer(_Keyed(surface, part.key, len(posted), buttons=(len(pieces) - 1, part.buttons)))
    expected = await renderer.show_complete(part.text, over=posted, over_shown=True)
    if len(renderer.parts) < expected:
        done = f" ({len(renderer.parts)} of {expected} parts were posted)" if renderer.parts else ""
        raise not_delivered(renderer.last_error, done)
    return renderer.parts


def _same(post: OwnPost, key: str, text: str) -> bool:
    if post.key is not None:
        return post.key == key
    return bool(post.text.strip()) and post.text.strip() == text.strip()


async def _file(surface: KeyedSurface, file: OutgoingFile, key: str, seen: list[OwnPost]) -> list[str]:
    hit = next((m for m in seen if file.filename in m.filenames), None)
    if hit is not None:
        return [hit.id]
    keyed = _Keyed(surface, key, 0)
    renderer = StreamRenderer(keyed)
    if not await renderer.upload(file):
        raise not_delivered(renderer.last_error, f" (the file {file.filename} was not posted)")
    return [keyed.uploaded] if keyed.uploaded else []


class _Keyed:
    """The surface as the renderer sees it, each post carrying the next piece's key and each upload the part's."""

    def __init__(
        self, surface: KeyedSurface, key: str, first: int, *, buttons: tuple[int, Sequence[Button]] = (0, ())
    ) -> None:
        self.surface = surface
        self.buttons_at, self.buttons = buttons  # the piece that carries them (the last one), and them
        self.key = key
        self.next = first
        self.uploaded = ""
        self.limits: SurfaceLimits = surface.limits
        self.budget: RateBudget = surface.budget

    def windows(self, action: str) -> Sequence[SlidingWindow]:
        return self.surface.windows(action)

    def routine_interval(self) -> float:
        return self.surface.routine_interval()

    def format_text(self, markdown: str) -> str:
        return self.surface.format_text(markdown)

    def format_status(self, status: str) -> str:
        return self.surface.format_status(status)

    def format_note(self, note: str) -> str:
        return self.surface.format_note(note)

    async def post(self, text: str) -> str:
        buttons = self.buttons if self.next == self.buttons_at else ()
        message_id = await self.surface.post_keyed(text, piece_key(self.key, self.next), buttons)
        self.next += 1  # only once it is there: a retried post keeps its key
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        await self.surface.edit(message_id, text)

    async def delete(self, message_id: str) -> None:
        await self.surface.delete(message_id)

    async def upload(self, file: OutgoingFile) -> None:
        self.uploaded = await self.surface.upload_keyed(file, self.key)

    async def typing(self) -> None:
        await self.surface.typing()
