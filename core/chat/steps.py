"""The named places where features plug into a turn.

A turn runs: access → store the user message → **before-model steps** → the
model/tool loop → store the answer → **after-answer steps**.

* A :class:`BeforeModelStep` adds context for this turn (recalled memories,
  yesterday's summary, rolling summaries of older messages).  Each runs under
  its own ``timeout``: a slow step is skipped for this turn, never holding the
  first word back longer than that.
* An :class:`AfterAnswerStep` runs once the answer is stored, as a background
  task of the process's :class:`core.tasks.BackgroundTasks` (never delaying the
  answer), retried when it fails and logged, never lost silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from core.db.repositories import UserRecord
from core.types import IncomingMessage, MessageStatus


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """What every step may know about the turn: who, where, when, and the stored user message."""

    incoming: IncomingMessage
    user: UserRecord  # the speaker, as a person
    owner_user_id: int  # who owns the conversation (differs from the speaker in a shared thread)
    conversation_id: int
    user_message_id: int
    answer_message_id: int
    now: datetime
    timezone: ZoneInfo

    @property
    def text(self) -> str:
        return self.incoming.text

    @property
    def shared(self) -> bool:
        """A place other people read too: steps that add the speaker's private data are skipped."""
        return self.incoming.shared


@dataclass(frozen=True, slots=True)
class ContextAddition:
    """What a before-model step adds to this turn's context.

    ``notes`` are system messages placed after the system prompt and before the
    recent messages, in step order.  ``covers_up_to`` (a message id) says the
    notes stand in for every message up to and including that id (a rolling
    summary): those messages leave the model's window; they stay stored.
    """

    notes: Sequence[str] = ()
    covers_up_to: int | None = None


class BeforeModelStep(Protocol):
    """Adds context before the model is called.

    A step whose notes carry the speaker's private data (recalled memories, their day, their Calendar)
    sets a class attribute ``private = True``; it is then skipped in shared places (see ``TurnFacts.shared``).
    """

    name: str
    timeout: float  # seconds; past it the step is skipped for this turn

    async def before_model(self, turn: TurnFacts) -> ContextAddition | None: ...


@dataclass(frozen=True, slots=True)
class FinishedTurn:
    """A turn whose answer is stored: what after-answer steps work from."""

    facts: TurnFacts
    answer_text: str
    status: MessageStatus
    tool_results: tuple[str, ...] = field(default=())


class AfterAnswerStep(Protocol):
    """Work after the answer is stored (index, extract memories, summarise)."""

    name: str

    async def after_answer(self, turn: FinishedTurn) -> None: ...


@dataclass(frozen=True, slots=True)
class HistoryChange:
    """Stored messages changed in place: an edit, a deletion, or /forget (``message_id`` None: several)."""

    conversation_id: int
    message_id: int | None
    kind: str  # "edited", "deleted" or "forgotten"
    user_name: str = ""
    timezone: str = "UTC"


class HistoryListener(Protocol):
    """Reacts to changed history (rewrite summaries, re-index memory); runs in the background."""

    name: str

    async def history_changed(self, change: HistoryChange) -> None: ...
