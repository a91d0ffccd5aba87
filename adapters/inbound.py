"""The inbound pipeline every platform feeds: claim → access → refusal, before any work on a message.

A platform adapter keeps only what is its own: whether a message is for the assistant
(a pure check of the payload, see ``addressed`` in adapters/discord/mapping.py and
adapters/slack/mapping.py), who wrote it, how a refusal reaches only its author, and
where the answer shows. The order here is the same for all of them:

1. claim the message in the database, so one process answers it (a redelivery, to this
   process or another sharing the database, is dropped), with the ``people`` revision
   read alongside;
2. decide access once (the decision is handed to the turn, which does not ask again);
3. refuse a stranger once per window, privately; nothing else is done for them (no
   thread opened, no file downloaded).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from adapters.strangers import StrangerGate
from core.chat import ChatService
from core.people import Admission
from core.types import ConversationRef, PlatformIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message that is for the assistant: where it is claimed and answered, and its platform id."""

    place: ConversationRef
    message_id: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Admitted:
    """A message this process answers, from an author who is let in."""

    author: PlatformIdentity
    admission: Admission | None  # the gate's decision, handed to the turn (None: the turn decides)


class InboundPipeline:
    """Claims a message and decides on its author, in that order, for every platform."""

    def __init__(self, chat: ChatService, gate: StrangerGate) -> None:
        self.chat = chat
        self.gate = gate

    async def admit(
        self,
        arrival: Arrival,
        author: Callable[[], Awaitable[PlatformIdentity]],
        refuse: Callable[[str], Awaitable[None]],
    ) -> Admitted | None:
        """The admitted message, or None when another process answers it or its author is not let in.

        ``author()`` says who wrote it (asked only once the message is claimed); ``refuse(sentence)``
        tells only the author why not (called at most once per window for one account).
        """
        revision = self.gate.read_ahead()  # its round trip overlaps the claim's
        try:
            claimed = await self.chat.claim(arrival.place, arrival.message_id, arrival.received_at)
        except BaseException:
            revision.cancel()
            raise
        if not claimed:
            revision.cancel()
            log.info("message %s in %s is answered by another process", arrival.message_id, arrival.place)
            return None
        try:
            identity = await author()
        except BaseException:
            revision.cancel()
            raise
        verdict = await self.gate.check(identity, revision=revision)
        if not verdict.allowed:
            if verdict.refusal:
                await refuse(verdict.refusal)
            return None
        return Admitted(identity, verdict.admission)
