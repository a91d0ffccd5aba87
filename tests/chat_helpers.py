"""Helpers that let tests read like a chat: say something, look at what came back."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime

from core.chat import ChatService
from core.types import (
    Attachment,
    ConversationRef,
    IncomingMessage,
    OutgoingFile,
    PlatformIdentity,
    Refused,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
    TurnStarted,
)

PLACE = ConversationRef("test", "w1", "dm-alice")
ALICE = PlatformIdentity("test", "w1", "alice", display_name="Alice")


@dataclass
class Reply:
    """Everything one turn produced."""

    events: list[TurnEvent] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def statuses(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, StatusUpdate)]

    @property
    def error(self) -> str | None:
        return next((e.message for e in self.events if isinstance(e, TurnError | Refused)), None)

    @property
    def done(self) -> TurnDone | None:
        return next((e for e in self.events if isinstance(e, TurnDone)), None)

    @property
    def started(self) -> TurnStarted | None:
        return next((e for e in self.events if isinstance(e, TurnStarted)), None)

    @property
    def files(self) -> list[OutgoingFile]:
        return [e for e in self.events if isinstance(e, OutgoingFile)]


async def say(
    chat: ChatService,
    text: str,
    *,
    author: PlatformIdentity = ALICE,
    place: ConversationRef = PLACE,
    at: datetime | None = None,
    platform_message_id: str = "",
    attachments: tuple[Attachment, ...] = (),
    shared_place: bool = False,
) -> Reply:
    """Send one message through ``chat.turn`` and collect the whole event stream."""
    reply = Reply()
    incoming = IncomingMessage(
        conversation=place,
        author=author,
        text=text,
        received_at=at or chat.clock(),
        platform_message_id=platform_message_id,
        attachments=attachments,
        shared_place=shared_place,
    )
    async with aclosing(chat.turn(incoming)) as events:
        async for event in events:
            reply.events.append(event)
    return reply
