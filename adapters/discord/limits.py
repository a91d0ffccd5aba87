"""Discord's published rate limits, as windows for the shared budget."""

from __future__ import annotations

import time
from collections.abc import Sequence

from adapters.budget import RateBudget, SlidingWindow

# About 5 edits and 5 sends per 5 s per channel, and 50 requests a second per
# bot. The windows are a little stricter than the server's, so clock jitter
# between us and Discord never tips a request over.
CHANNEL_EDITS = (5, 5.1)
CHANNEL_SENDS = (5, 5.1)
BOT_REQUESTS_PER_SECOND = 45
MAX_MESSAGE_CHARS = 2000


class DiscordBudget:
    """One budget for the whole bot: a global window and windows per channel."""

    def __init__(self) -> None:
        self.budget = RateBudget()
        self.global_window = SlidingWindow(
            "discord:global", BOT_REQUESTS_PER_SECOND, 1.0, background_share=0.2, reservable=False
        )
        self._channels: dict[int, tuple[SlidingWindow, SlidingWindow]] = {}

    def windows(self, channel_id: int, action: str) -> Sequence[SlidingWindow]:
        """The windows a call in this channel counts against."""
        if action == "typing":
            return (self.global_window,)
        edits, sends = self._for_channel(channel_id)
        return (edits if action == "edit" else sends, self.global_window)

    def routine_interval(self) -> float:
        """One routine edit per slot, keeping one slot of the window for the final edit."""
        limit, period = CHANNEL_EDITS
        return period / (limit - 1)

    def _for_channel(self, channel_id: int) -> tuple[SlidingWindow, SlidingWindow]:
        windows = self._channels.get(channel_id)
        if windows is None:
            if len(self._channels) > 5000:
                self._forget_idle()
            windows = (
                SlidingWindow(f"discord:{channel_id}:edit", *CHANNEL_EDITS),
                SlidingWindow(f"discord:{channel_id}:send", *CHANNEL_SENDS),
            )
            self._channels[channel_id] = windows
        return windows

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for channel_id, (edits, sends) in list(self._channels.items()):
            if edits.used(now) == 0 and sends.used(now) == 0 and edits.reserved == 0:
                del self._channels[channel_id]
