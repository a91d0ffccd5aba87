"""Discord's published rate limits, as windows for the shared budget, learned down from its 429s."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from types import SimpleNamespace

import aiohttp

from adapters.budget import RateBudget
from adapters.rate_window import SlidingWindow

log = logging.getLogger(__name__)

# About 5 edits and 5 sends per 5 s per channel, and 50 requests a second per
# bot. The windows are a little stricter than the server's, so clock jitter
# between us and Discord never tips a request over: requests granted over one
# second of ours can arrive bunched inside one second of Discord's (the event
# loop, the connection pool), so the global window keeps a tenth in hand and
# lets at most BOT_BURST requests go back to back.
CHANNEL_EDITS = (5, 5.1)
CHANNEL_SENDS = (5, 5.1)
BOT_REQUESTS_PER_SECOND = 45
BOT_BURST = 10
MAX_MESSAGE_CHARS = 2000

_MESSAGE_PATH = re.compile(r"/channels/(\d+)/messages(?:/(\d+))?$")


class DiscordBudget:
    """One budget for the whole bot: a global window and windows per channel."""

    def __init__(self) -> None:
        self.rates = RateBudget()
        self.global_window = SlidingWindow(
            "discord:global", BOT_REQUESTS_PER_SECOND, 1.0, background_share=0.2, reservable=False, burst=BOT_BURST
        )
        self._channels: dict[int, tuple[SlidingWindow, SlidingWindow]] = {}
        # Discord's per-channel limits are the same in every channel: what one channel's
        # 429 taught is taught to all (0: edits, 1: sends), and new channels start from it.
        self._lessons: dict[int, SlidingWindow] = {}

    def windows(self, channel_id: int, action: str) -> Sequence[SlidingWindow]:
        """The windows a call in this channel counts against (a deletion counts as an edit)."""
        if action == "typing":
            return (self.global_window,)
        edits, sends = self._for_channel(channel_id)
        return (sends if action in ("post", "upload") else edits, self.global_window)

    def routine_interval(self) -> float:
        """One routine edit per slot, keeping one slot of the window for the final edit."""
        limit, period = CHANNEL_EDITS
        return period / (limit - 1)

    def trace_config(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for ``discord.Client(http_trace=...)``: Discord's 429s teach the budget.

        discord.py waits out a 429 and repeats the request itself, so the
        renderer never sees it; this hook lets the windows that were too
        generous learn the stricter limit (global, or the channel's send or
        edit bucket).
        """
        trace = aiohttp.TraceConfig()

        async def on_request_end(
            session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
        ) -> None:
            if params.response.status == 429:
                self.rate_limited(params.method, params.url.path, params.response.headers)

        trace.on_request_end.append(on_request_end)
        return trace

    def rate_limited(self, method: str, path: str, headers: aiohttp.typedefs.LooseHeaders) -> None:
        """A 429 from Discord for ``method path``: hold back and shrink the window it came from."""
        get = getattr(headers, "get", None)
        scope = (get("X-RateLimit-Scope") if get else None) or ""
        try:
            # Reset-After is to the millisecond; Retry-After is rounded up to whole seconds.
            retry_after = float((get("X-RateLimit-Reset-After") or get("Retry-After") if get else None) or 1.0)
        except ValueError:
            retry_after = 1.0
        if scope == "global" or (get and get("X-RateLimit-Global")):
            # discord.py waits out a global limit itself; the budget only needs to learn a gentler pace.
            retry_after = min(retry_after, 0.25)
        if scope == "global" or (get and get("X-RateLimit-Global")):
            windows: tuple[SlidingWindow, ...] = (self.global_window,)
        else:
            match = _MESSAGE_PATH.search(path)
            if match is None or scope == "shared":
                return  # not one of our windows, or a limit other bots share: nothing to learn
            kind = 1 if method == "POST" else 0
            windows = (self._for_channel(int(match.group(1)))[kind],)
        log.warning("Discord refused a request (%s %s); holding back %.1fs", method, scope or "bucket", retry_after)
        self.rates.penalize(windows, retry_after)
        if windows[0] is not self.global_window:
            self._lessons[kind] = lesson = windows[0]
            now = self.rates.pace.now()
            for channel_windows in self._channels.values():
                if channel_windows[kind] is not lesson:
                    channel_windows[kind].adopt(lesson, now)

    def _for_channel(self, channel_id: int) -> tuple[SlidingWindow, SlidingWindow]:
        windows = self._channels.get(channel_id)
        if windows is None:
            if len(self._channels) > 5000:
                self._forget_idle()
            windows = (
                SlidingWindow(f"discord:{channel_id}:edit", *CHANNEL_EDITS),
                SlidingWindow(f"discord:{channel_id}:send", *CHANNEL_SENDS),
            )
            now = self.rates.pace.now()
            for kind, lesson in self._lessons.items():
                windows[kind].adopt(lesson, now)
            self._channels[channel_id] = windows
        return windows

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for channel_id, (edits, sends) in list(self._channels.items()):
            if edits.used(now) == 0 and sends.used(now) == 0 and edits.reserved == 0:
                del self._channels[channel_id]
