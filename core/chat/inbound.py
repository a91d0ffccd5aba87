"""Each incoming message answered by one process, and its edits and deletions seen by that process.

Several processes may share one database, and a platform may deliver a message
to more than one of them (Discord sends every event to each unsharded session
of a bot; Slack redelivers on retries and in HTTP mode).  The first process to
claim the message in the database answers it; the others drop it.  An edit or
deletion is noted in the database too, so the process whose turn takes the
message sees it wherever it arrived.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from core.chat.waiting import Waiting
from core.db.inbound import InboundMessages, NotedChanges
from core.types import ConversationRef

log = logging.getLogger(__name__)


class InboundClaims:
    """Claims incoming messages in the database, in their order of arrival per place."""

    def __init__(self, inbound: InboundMessages) -> None:
        self.inbound = inbound
        self._last: dict[ConversationRef, asyncio.Future[None]] = {}  # the newest claim per place

    async def claim(self, place: ConversationRef, platform_message_id: str, received_at: datetime) -> bool:
        """Whether this process answers the message (False: another process claimed it first).

        Claims at one place finish in the order they were asked, so the turns that
        follow them take their places in line in arrival order.  When the database
        cannot be asked, the message is answered: a message is never dropped on a
        guess, at worst answered twice by processes sharing the database.
        """
        if not platform_message_id:
            return True  # nothing identifies it on the platform: no other process can have it
        before = self._last.get(place)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[place] = mine
        try:
            if before is not None:
                await asyncio.wait({before})
            try:
                return await self.inbound.claim(place, platform_message_id, received_at)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("could not claim message %s in %s, answering it: %s", platform_message_id, place, exc)
                return True
        finally:
            mine.set_result(None)
            if self._last.get(place) is mine:
                del self._last[place]

    async def note_edit(self, place: ConversationRef, platform_message_id: str, text: str) -> bool:
        """Note an edit for the process whose turn may still take the message; whether it was claimed."""
        return await self.inbound.note_edit(place, platform_message_id, text)

    async def note_delete(self, place: ConversationRef, platform_message_id: str, deleted_at: datetime) -> bool:
        """Note a deletion for the process whose turn may still take the message; whether it was claimed."""
        return await self.inbound.note_delete(place, platform_message_id, deleted_at)

    @staticmethod
    def catch_up(noted: NotedChanges | None, waiting: Waiting) -> None:
        """Apply to ``waiting`` the edits and deletion any process noted for its message, as read
        in the transaction that stored it (``StartedTurn.noted``)."""
        if noted is None:
            return
        if noted.deleted:
            waiting.deleted = True
        if noted.text is not None:
            waiting.text = noted.text
