"""Reading a streamed answer's thread back, after a streaming call whose answer the network lost.

Slack has no idempotency key for chat.startStream or chat.appendStream: either
one, sent again after it took effect, would show the answer twice.  So before a
lost call is repeated, the thread is read back to see whether it landed.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.surface import NETWORK_ERRORS

log = logging.getLogger(__name__)

# Seconds a Slack ts may lag our clock by when matching a stream whose start was lost.
_CLOCK_SKEW = 5.0


class ThreadReadback:
    """One answer's thread (``thread_ts`` in ``channel``), read back to learn what a lost call did."""

    def __init__(self, client: AsyncWebClient, channel: str, thread_ts: str) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts

    async def started_stream(self, text: str, since: float) -> str | None:
        """The ts of the stream a chat.startStream whose answer was lost began, if Slack has it.

        Ours is the bot's message in this thread, begun after ``since`` (Unix
        seconds, a little before the call), showing the text the call carried.
        """
        messages = await self._messages("check for a stream whose start was lost")
        for message in reversed(messages or []):
            ts = str(message.get("ts") or "")
            if (
                message.get("bot_id")
                and ts != self.thread_ts
                and float(ts or 0) >= since - _CLOCK_SKEW
                and (message.get("text") or "") == text
            ):
                log.info("a stream was started although its answer was lost; continuing it")
                return ts
        return None

    async def shown_text(self, ts: str) -> str | None:
        """What the message ``ts`` of this thread shows now; None when it is not there or Slack cannot say."""
        messages = await self._messages("read the streamed message back")
        if messages is None:
            return None
        return next((m.get("text") for m in messages if m.get("ts") == ts), None)

    async def _messages(self, purpose: str) -> list[dict[str, Any]] | None:
        """The messages of the thread, oldest first; None (and a log line) when Slack cannot say."""
        try:
            response = await self.client.conversations_replies(channel=self.channel, ts=self.thread_ts, limit=200)
        except (SlackClientError, *NETWORK_ERRORS) as exc:
            log.warning("could not %s: %s", purpose, exc)
            return None
        return list(response.get("messages") or [])
