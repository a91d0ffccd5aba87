"""Limits on volume and cost, per person: messages a minute, messages and images a day, turns waiting in line.

Counts are kept in this process's memory (a bot serves a few people; several
processes sharing a database each enforce the limits on what they see).  A
limit that is hit gives the user one clear sentence; nothing is stored and no
model is called for that message.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import date, timedelta

from core.clock import Clock, system_clock


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Zero turns a limit off."""

    messages_per_minute: int = 12
    messages_per_day: int = 300
    images_per_day: int = 20
    waiting_per_conversation: int = 5


class UsageLimits:
    """Counts what each user asks for and says when a limit is reached."""

    def __init__(self, settings: LimitSettings = LimitSettings(), *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self._recent: defaultdict[int, deque] = defaultdict(deque)
        self._daily: dict[tuple[int, date, str], int] = {}

    def take_message(self, user_id: int) -> str | None:
        """Count one message; a sentence for the user when it is over a limit (then it is not counted)."""
        now = self.clock()
        per_minute = self.settings.messages_per_minute
        if per_minute:
            recent = self._recent[user_id]
            while recent and now - recent[0] >= timedelta(minutes=1):
                recent.popleft()
            if len(recent) >= per_minute:
                return f"You're writing faster than I can keep up with ({per_minute} messages a minute): wait a moment, then send that again."
        refusal = self._take_daily(user_id, "messages", self.settings.messages_per_day, "messages")
        if refusal is None and per_minute:
            self._recent[user_id].append(now)
        return refusal

    def take_image(self, user_id: int) -> str | None:
        """Count one generated image (a paid call); a sentence when today's allowance is used up."""
        return self._take_daily(user_id, "images", self.settings.images_per_day, "images")

    def _take_daily(self, user_id: int, kind: str, limit: int, noun: str) -> str | None:
        if not limit:
            return None
        key = (user_id, self.clock().date(), kind)
        used = self._daily.get(key, 0)
        if used >= limit:
            return f"You've reached today's limit of {limit} {noun}. It resets at midnight (UTC)."
        self._daily[key] = used + 1
        if len(self._daily) > 10_000:  # forget earlier days
            today = self.clock().date()
            self._daily = {k: v for k, v in self._daily.items() if k[1] == today}
        return None
