"""Reading a turn's events ahead to the first text, then handing every event on in order.

A native stream starts with its first text in one call, so it must see that
text before it commits; the events read meanwhile (and an error raised while
reading them) are replayed unchanged, followed by the rest of the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from core.types import TextDelta, TurnEvent


async def read_to_first_text(events: AsyncIterator[TurnEvent]) -> tuple[str, AsyncIterator[TurnEvent]]:
    """Read ``events`` up to the first text; returns that text and the whole stream, replayed from its start.

    The text is ``""`` when the stream ended (or failed) before any; an error
    raised meanwhile is raised again by the replay after the events read before it.
    """
    buffered, error, ended = await _until_first_text(events)
    replay = _replay(buffered, error, None if ended else events)
    return "".join(e.text for e in buffered if isinstance(e, TextDelta)), replay


async def _until_first_text(events: AsyncIterator[TurnEvent]) -> tuple[list[TurnEvent], BaseException | None, bool]:
    """Read events up to the first text: (events read, an error raised meanwhile, whether they ended)."""
    buffered: list[TurnEvent] = []
    try:
        async for event in _unclosed(events):
            buffered.append(event)
            if isinstance(event, TextDelta) and event.text:
                return buffered, None, False
    except BaseException as exc:  # noqa: BLE001 - handed on to the renderer, which reports it
        return buffered, exc, True
    return buffered, None, True


async def _unclosed(events: AsyncIterator[TurnEvent]) -> AsyncIterator[TurnEvent]:
    """Iterate ``events`` without closing them when the loop stops early (the rest is read later)."""
    iterator = events.__aiter__()
    while True:
        try:
            event = await iterator.__anext__()
        except StopAsyncIteration:
            return
        yield event


async def _replay(
    buffered: list[TurnEvent], error: BaseException | None, rest: AsyncIterator[TurnEvent] | None
) -> AsyncIterator[TurnEvent]:
    """The events read ahead, then the error raised meanwhile or the rest of the stream."""
    try:
        for event in buffered:
            yield event
        if error is not None:
            raise error
        if rest is not None:
            async with aclosing(rest) as stream:  # type: ignore[type-var]
                async for event in stream:
                    yield event
    finally:
        if rest is not None and error is None and hasattr(rest, "aclose"):
            await rest.aclose()
