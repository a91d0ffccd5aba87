"""Changes to a person's data asked for in a shared place wait for that person's own "yes".

In a thread other people write in, a planted instruction could make the model
create, move or cancel the speaker's Calendar events.  So there a tool that
changes data (``ToolBase.changes_data``) does not run: :class:`ConfirmFirst`
keeps the call in ``pending_actions`` (the database, so any process may see the
answer) and the code itself, not the model, adds a line to the answer naming
the action and asking the speaker to reply yes or no.  The speaker's next
message in that place decides (:class:`ConfirmationStep`, a before-model
step): "yes" runs the held call, "no" drops it, anything else drops it too.
Nobody else's "yes" counts: the action is held for the speaker alone.  Every
platform gets the same plain yes/no (no buttons), which also works in the
terminal and in Slack HTTP mode.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from core.chat.steps import ContextAddition, TurnFacts
from core.clock import Clock, system_clock
from core.db.database import Database
from core.db.models_pending import PendingAction
from core.db.repositories import UserRecord
from core.llm import ToolCall
from core.text_safety import clean_name
from core.tools.registry import ToolBase, ToolContext, ToolRegistry, ToolResult

log = logging.getLogger(__name__)

WAIT = timedelta(minutes=10)  # a yes later than this is too late: the request is dropped
YES = frozenset({"yes", "y", "yes please", "yep", "confirm", "ok", "okay", "go ahead", "do it"})
NO = frozenset({"no", "n", "no thanks", "cancel", "don't", "dont", "stop"})
_VALUE_CHARS = 80


def yes_or_no(text: str) -> bool | None:
    """True for a clear yes, False for a clear no, None for anything else."""
    words = re.sub(r"[^\w' ]+", " ", text.lower()).split()
    said = " ".join(words)
    return True if said in YES else False if said in NO else None


def describe(tool: ToolBase, arguments: dict[str, Any]) -> str:
    """The held action in plain words, from the call itself: "create calendar event: title “Lunch”, start …"."""
    parts = []
    for key, value in arguments.items():
        text = " ".join(str(value).split())
        text = text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
        parts.append(f"{key} “{text}”")
    return f"{tool.name.replace('_', ' ')}: {', '.join(parts)}"[:400]


@dataclass(frozen=True, slots=True)
class Pending:
    tool: str
    arguments: dict[str, Any]
    description: str
    created_at: datetime


class PendingActions:
    """The held calls, one per speaker and conversation (a new one replaces the old)."""

    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    async def hold(self, conversation_id: int, user_id: int, tool: str, arguments: dict[str, Any], text: str) -> None:
        """Keep this call until the speaker answers."""
        async with self.db.engine.begin() as conn:
            await conn.execute(
                delete(PendingAction).where(
                    PendingAction.conversation_id == conversation_id, PendingAction.user_id == user_id
                )
            )
            await conn.execute(
                PendingAction.__table__.insert().values(
                    conversation_id=conversation_id,
                    user_id=user_id,
                    tool=tool,
                    arguments=arguments,
                    description=text,
                    created_at=self.clock(),
                )
            )

    async def take(self, conversation_id: int, user_id: int) -> Pending | None:
        """The speaker's held call here, removed (once: two processes cannot both take it); None when none."""
        where = (PendingAction.conversation_id == conversation_id, PendingAction.user_id == user_id)
        async with self.db.engine.connect() as conn:
            if await conn.scalar(select(PendingAction.id).where(*where)) is None:
                return None  # the usual case: one read, no write
        async with self.db.engine.begin() as conn:
            row = (
                await conn.execute(
                    delete(PendingAction)
                    .where(*where)
                    .returning(
                        PendingAction.tool,
                        PendingAction.arguments,
                        PendingAction.description,
                        PendingAction.created_at,
                    )
                )
            ).first()
        return Pending(row.tool, dict(row.arguments), row.description, row.created_at) if row else None


class ConfirmFirst(ToolBase):
    """Wraps a tool that changes data: in a shared place the call is held until the speaker says yes."""

    def __init__(self, tool: ToolBase, pending: PendingActions) -> None:
        self.tool = tool
        self.pending = pending
        self.name = tool.name
        self.description = tool.description + " In a shared thread, the user is asked to confirm first."
        self.parameters = tool.parameters
        self.status = tool.status
        self.quota = tool.quota
        self.private = tool.private
        self.changes_data = True

    def available_for(self, user: UserRecord) -> bool:
        return self.tool.available_for(user)

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        if not context.shared:
            return await self.tool.run(arguments, context)
        action = describe(self.tool, arguments)
        await self.pending.hold(context.conversation_id, context.user_id, self.tool.name, arguments, action)
        who = clean_name(context.user.display_name, fallback="the person who asked")
        return ToolResult(
            f"Not done yet: in this shared thread {who} must confirm first. A line under your answer asks them "
            "to reply yes or no; tell them briefly what you are about to do and do not call this tool again for it.",
            notice=f"Waiting for {who}'s confirmation to {action}. {who}, reply yes to go ahead or no to cancel.",
        )


class ConfirmationStep:
    """Before the model: the speaker's yes runs their held call, any other answer drops it; a note says which."""

    name = "confirmations"
    timeout = 30.0  # a Calendar call may take a while; this step only works when something is held

    def __init__(self, pending: PendingActions, tools: ToolRegistry, *, clock: Clock = system_clock) -> None:
        """``tools`` holds the unwrapped tools the held calls name."""
        self.pending = pending
        self.tools = tools
        self.clock = clock

    async def before_model(self, turn: TurnFacts) -> ContextAddition | None:
        held = await self.pending.take(turn.conversation_id, turn.user.id)
        if held is None:
            return None
        who = clean_name(turn.user.display_name, fallback="The user")
        answer = yes_or_no(turn.text)
        if self.clock() - held.created_at > WAIT:
            return ContextAddition(notes=[f"The earlier request to {held.description} waited too long; not done."])
        if answer is None:
            return ContextAddition(
                notes=[f"{who} did not confirm the earlier request to {held.description}: it was not done."]
            )
        if not answer:
            return ContextAddition(notes=[f"{who} declined the request to {held.description}: nothing was done."])
        context = ToolContext(
            user=turn.user,
            conversation_id=turn.conversation_id,
            now=turn.now,
            timezone=turn.timezone,
            owner_user_id=turn.owner_user_id,
            place=turn.incoming.conversation,
            user_message_id=turn.user_message_id,
            shared=turn.shared,
        )
        call = ToolCall(f"confirmed-{turn.user_message_id}", held.tool, json.dumps(held.arguments))
        result = await self.tools.run(call, context)
        log.info("conversation %s: a held %s ran after its speaker's yes", turn.conversation_id, held.tool)
        return ContextAddition(
            notes=[
                f"{who} confirmed the request to {held.description}. It was carried out; the result: "
                f"{result.content}\nTell them the outcome; do not call the tool again for it."
            ]
        )


def confirm_first(tools: list[ToolBase], pending: PendingActions) -> list[ToolBase]:
    """``tools`` with every tool that changes data wrapped in :class:`ConfirmFirst`."""
    return [ConfirmFirst(t, pending) if t.changes_data else t for t in tools]
