"""While an answer's first word is awaited: typing kept alive, and "still thinking…" after a while.

Discord shows a bot as typing for about 10 seconds after each trigger, so a
long wait for the model (a slow first token, a long tool) would leave the user
looking at a bare cursor.  The renderer runs :func:`keep_alive` beside the
answer: it triggers typing at once and every ``every`` seconds, and past
``still_thinking_after`` seconds it asks the renderer to say so in the
placeholder.  The waits are on the injected clock and its sleep (core/clock.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.clock import Clock, Sleep

TYPING_EVERY = 8.0
STILL_THINKING_AFTER = 10.0
STILL_THINKING = "still thinking…"


async def keep_alive(
    clock: Clock,
    sleep: Sleep,
    *,
    typing: Callable[[], Awaitable[None]],
    waiting: Callable[[], bool],
    still_thinking: Callable[[], None],
    every: float = TYPING_EVERY,
    still_thinking_after: float = STILL_THINKING_AFTER,
) -> None:
    """Trigger ``typing`` now and every ``every`` seconds while ``waiting()``; call ``still_thinking`` once."""
    started = clock()
    next_typing = every
    said = False
    await typing()
    while True:
        due = next_typing if said else min(next_typing, still_thinking_after)
        await sleep(due - (clock() - started).total_seconds())
        if not waiting():
            return
        waited = (clock() - started).total_seconds()
        if not said and waited >= still_thinking_after:
            said = True
            still_thinking()
        if waited >= next_typing:
            next_typing = (waited // every + 1) * every
            await typing()
