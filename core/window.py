"""The recent window of each conversation, kept between turns.

Reading and stamping a few hundred messages on every turn would cost more than
the rest of the turn together, so the window is kept in memory and a turn only
adds what is new.  It is trusted only while the database agrees: the newest
message id before the turn and the conversation's ``revision`` (bumped by every
edit, deletion and /forget, in any process) must match what the window saw.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from core.context import WindowEntry


@dataclass
class CachedWindow:
    """Entries of one conversation, oldest first, as seen in one time zone."""

    zone: str
    revision: int
    last_id: int
    has_older: bool  # older in-context messages exist that are not loaded
    entries: deque[WindowEntry] = field(default_factory=deque)
    cost: int = 0

    def append(self, entry: WindowEntry) -> None:
        self.entries.append(entry)
        self.cost += entry.cost
        self.last_id = entry.id

    def trim(self, keep_cost: int) -> None:
        """Drop the oldest entries beyond ``keep_cost`` tokens (keeping at least one)."""
        while len(self.entries) > 1 and self.cost - self.entries[0].cost >= keep_cost:
            self.cost -= self.entries.popleft().cost
            self.has_older = True

    def covers(self, budget: int) -> bool:
        """Whether these entries are enough to fill ``budget`` tokens."""
        return not self.has_older or self.cost >= budget


class WindowCache:
    """Windows of the most recently active conversations (least recently used ones are dropped)."""

    def __init__(self, max_conversations: int = 256) -> None:
        self.max_conversations = max_conversations
        self._windows: OrderedDict[int, CachedWindow] = OrderedDict()

    def get(self, conversation_id: int, *, zone: str, revision: int, last_id: int | None) -> CachedWindow | None:
        """The window if it still matches the database (same revision, nothing added behind its back)."""
        window = self._windows.get(conversation_id)
        if window is None:
            return None
        if window.zone != zone or window.revision != revision or window.last_id != (last_id or 0):
            del self._windows[conversation_id]
            return None
        self._windows.move_to_end(conversation_id)
        return window

    def put(self, conversation_id: int, window: CachedWindow) -> None:
        self._windows[conversation_id] = window
        self._windows.move_to_end(conversation_id)
        while len(self._windows) > self.max_conversations:
            self._windows.popitem(last=False)

    def peek(self, conversation_id: int) -> CachedWindow | None:
        return self._windows.get(conversation_id)

    def forget(self, conversation_id: int) -> None:
        self._windows.pop(conversation_id, None)
