"""The conversation's recent window for a turn: from memory when it is current, else from the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.context import ContextBuilder
from core.db.repositories import MessageRepository, StartedTurn
from core.timefmt import zone
from core.window import CachedWindow, WindowCache

# The cached window holds this much more than the budget, so that small changes
# of the budget (a longer system prompt) do not force a reload.
WINDOW_SLACK = 1.25

SpeakerNames = Callable[[list[int]], Awaitable[dict[int, str]]]


class WindowLoader:
    """Keeps each conversation's window between turns and checks it against the database's revision."""

    def __init__(
        self,
        messages: MessageRepository,
        context: ContextBuilder,
        windows: WindowCache,
        *,
        names: SpeakerNames | None = None,
    ) -> None:
        self.messages = messages
        self.context = context
        self.windows = windows
        self.names = names

    async def load(
        self, conversation_id: int, started: StartedTurn, zone_name: str, budget: int, *, speaker: str | None = None
    ) -> CachedWindow:
        """The recent window including the new user message, holding at least ``budget`` tokens when history allows.

        ``speaker`` (the new message's author) is given in shared threads, where every user message is
        labelled with who wrote it.
        """
        tz = zone(zone_name)
        window = self.windows.get(
            conversation_id, zone=zone_name, revision=started.revision, last_id=started.previous_last_id
        )
        if window is not None:
            window.append(self.context.entry(started.user_row, tz, speaker=speaker or ""))
            if window.covers(budget):
                window.trim(int(budget * WINDOW_SLACK))
                return window
        if started.previous_last_id is None:  # a new conversation: its first message is the whole window
            rows, has_older = [started.user_row], False
        else:
            rows, has_older = await self.messages.recent_for_context(
                conversation_id,
                up_to_id=started.user_row.id,
                token_budget=int(budget * WINDOW_SLACK),
                per_message_overhead=self.context.per_message_overhead,
            )
        window = CachedWindow(zone=zone_name, revision=started.revision, last_id=0, has_older=has_older)
        names: dict[int, str] = {}
        if speaker is not None:
            if self.names is not None and len(rows) > 1:
                names = await self.names(sorted({r.author_user_id for r in rows if r.author_user_id is not None}))
            names[started.user_row.author_user_id or 0] = speaker
        for row in rows:
            label = names.get(row.author_user_id or 0, "") if speaker is not None else ""
            window.append(self.context.entry(row, tz, speaker=label))
        self.windows.put(conversation_id, window)
        return window
