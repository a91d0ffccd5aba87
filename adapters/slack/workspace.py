"""Slack's rate limits for one workspace, as windows of the shared budget.

Slack counts most limits per workspace and method, not per conversation:
chat.update is Tier 3 (about 50 a minute for the whole workspace), the
streaming methods have their own tiers, and chat.postMessage allows about one
message a second in each channel.  Every answer in a workspace draws on the
same :class:`Workspace`, so twenty people asking at once share its updates
fairly instead of each collecting 429s.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.budget import RateBudget
from adapters.rate_window import SlidingWindow


@dataclass(frozen=True, slots=True)
class SlackRateLimits:
    """The windows we keep to, each a little inside Slack's published limit.

    Keeping a few slots and a fraction of a second in hand absorbs clock skew
    between our sliding window and Slack's own counting.
    """

    period: float = 60.5
    updates: int = 48  # chat.update, Tier 3 (~50/min)
    post_interval: float = 1.05  # chat.postMessage, ~1/s per channel
    uploads: int = 18  # files.completeUploadExternal and friends
    statuses: int = 45  # assistant.threads.setStatus
    stream_starts: int = 18  # chat.startStream, Tier 2 (~20/min)
    stream_stops: int = 18  # chat.stopStream, Tier 2 (~20/min), counted apart from starts
    stream_appends: int = 95  # chat.appendStream, Tier 4 (~100/min)
    opens: int = 45  # conversations.open, Tier 3 (~50/min), to reach a user unprompted
    deletes: int = 45  # chat.delete, Tier 3 (~50/min), counted apart from chat.update
    min_routine_interval: float = 1.0


class Workspace:
    """The shared budget and windows of one Slack workspace (team).

    Slack publishes no burst sizes: the windows of the calls an answer makes
    probe theirs (one call under way at a time until the first refusal, which
    teaches it; see :mod:`adapters.rate_window`).
    """

    def __init__(self, team_id: str, limits: SlackRateLimits | None = None) -> None:
        self.team_id = team_id
        self.limits = limits = limits or SlackRateLimits()
        self.budget = RateBudget()
        self.update = SlidingWindow("chat.update", limits.updates, limits.period, probe=True)
        self.upload = SlidingWindow("files.upload", limits.uploads, limits.period)
        self.status = SlidingWindow("assistant.threads.setStatus", limits.statuses, limits.period)
        self.stream_start = SlidingWindow("chat.startStream", limits.stream_starts, limits.period, probe=True)
        self.stream_stop = SlidingWindow("chat.stopStream", limits.stream_stops, limits.period, probe=True)
        self.stream_append = SlidingWindow("chat.appendStream", limits.stream_appends, limits.period, probe=True)
        self.open = SlidingWindow("conversations.open", limits.opens, limits.period)
        self.delete = SlidingWindow("chat.delete", limits.deletes, limits.period, probe=True)
        self._posts: dict[str, SlidingWindow] = {}
        self.editing_answers = 0  # answers rendered by editing a placeholder right now
        self.streaming_answers = 0  # answers natively streamed right now

    def post_window(self, channel: str) -> SlidingWindow:
        """The chat.postMessage window of one channel (a DM is a channel of its own)."""
        window = self._posts.get(channel)
        if window is None:
            window = self._posts[channel] = SlidingWindow(f"chat.postMessage {channel}", 1, self.limits.post_interval)
        return window

    def routine_interval(self) -> float:
        """Seconds between two routine edits of one answer, so every streaming answer gets its share.

        Each answer's final edit has a slot reserved; the rest of the window is
        split evenly between the answers streaming now.
        """
        window = self.update
        active = max(1, self.editing_answers, window.reserved)
        free = max(1, window.limit - window.reserved)
        return max(self.limits.min_routine_interval, window.period * active / free)

    def append_interval(self) -> float:
        """Seconds between two chat.appendStream calls of one natively streamed answer."""
        window = self.stream_append
        active = max(1, self.streaming_answers)
        return max(0.5, window.period * active / window.limit)


class Workspaces:
    """One :class:`Workspace` per team, made on first use."""

    def __init__(self, limits: SlackRateLimits | None = None) -> None:
        self.limits = limits or SlackRateLimits()
        self._teams: dict[str, Workspace] = {}

    def get(self, team_id: str) -> Workspace:
        workspace = self._teams.get(team_id)
        if workspace is None:
            workspace = self._teams[team_id] = Workspace(team_id, self.limits)
        return workspace
