"""Posting through a surface outside a live answer: a finished text and files, or an interrupted answer.

Both go the way answers go, through :class:`adapters.render.StreamRenderer`'s
split, rate budget and post-with-retry path, so an unprompted message or the
repair of a cut-off answer looks and behaves like any other answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.render import StreamRenderer
from adapters.surface import DeliveryError, RateLimited, Surface
from core.chat import InterruptedAnswer
from core.types import OutgoingFile

INTERRUPTED_NOTE = "This answer was cut off when the assistant restarted."


async def close_interrupted(surface: Surface, answer: InterruptedAnswer) -> list[str]:
    """After a restart: show a cut-off answer as it was stored, without a streaming marker, with a note.

    Returns the platform ids now showing it.
    """
    renderer = StreamRenderer(surface)
    await renderer.show_complete(answer.text, note=INTERRUPTED_NOTE, over=answer.platform_parts)
    return renderer.parts


async def deliver(surface: Surface, text: str, files: Sequence[OutgoingFile] = ()) -> list[str]:
    """Post a finished text and files unprompted, the way answers are posted.

    The text is split at the platform's limit like an answer and each part goes
    through the surface's rate budget and the renderer's post-with-retry path
    (rate limits waited out, failures retried, permanent refusals not).  Returns
    the platform ids of the text's messages.  Raises :class:`core.messenger.DeliveryError`
    when a part or a file could not be posted; what was posted before stays.
    """
    renderer = StreamRenderer(surface)
    if text.strip():
        expected = await renderer.show_complete(text)
        if len(renderer.parts) < expected:
            done = f" ({len(renderer.parts)} of {expected} parts were posted)" if renderer.parts else ""
            raise not_delivered(renderer.last_error, done)
    for file in files:
        if not await renderer.upload(file):
            raise not_delivered(renderer.last_error, f" (the file {file.filename} was not posted)")
    return renderer.parts


def not_delivered(error: Exception | None, detail: str) -> DeliveryError:
    """The renderer's last error (and what was posted) as the core's :class:`core.messenger.DeliveryError`."""
    if isinstance(error, DeliveryError):
        return DeliveryError(f"{error}{detail}", retryable=error.retryable)
    if isinstance(error, RateLimited):
        return DeliveryError(f"the platform kept refusing with rate limits{detail}", retryable=True)
    reason = f"{type(error).__name__}: {error}" if error is not None else "the platform refused the post"
    return DeliveryError(f"{reason}{detail}", retryable=True)
