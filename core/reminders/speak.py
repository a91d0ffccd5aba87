"""`speak`: the assistant starts a turn itself, in a person's conversation, and the history keeps it.

A message the assistant sends unprompted (a reminder, a check-in) goes to the
person's direct messages on the platform preferred (where they asked), else on
their other platforms, most recently used first. Each send carries an
idempotency key (the platforms' part messengers), so a retry after a crash finds
the earlier post instead of posting twice. The delivered text is then stored as
an assistant message of the conversation it landed in, so the model knows later
what it said there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.buttons import Button
from core.clock import Clock
from core.db.database import Database
from core.db.repositories import ConversationRepository
from core.messenger import Delivery, DeliveryError, Outbox
from core.outbound import OutboundPart, PartMessenger
from core.types import PlatformIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spoken:
    """Where a message landed, and the conversation (ours) that now holds it."""

    delivery: Delivery
    conversation_id: int


class Speaker:
    """Posts an unprompted assistant message once to a person, and finds the conversation to store it in."""

    def __init__(self, database: Database, outbox: Outbox, *, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock
        self._conversations = ConversationRepository(database, clock=clock)

    async def accounts(self, user_id: int, *, prefer_platform: str | None) -> list[PlatformIdentity]:
        """The person's accounts on connected platforms, `prefer_platform` first, then the most recently used."""
        return await self.outbox.accounts_for(user_id, prefer_platform=prefer_platform)

    def connected(self, platform: str) -> bool:
        """Whether `platform` has a messenger in this process."""
        return self.outbox.messenger(platform) is not None

    async def send(
        self,
        user_id: int,
        account: PlatformIdentity,
        key: str,
        text: str,
        *,
        earlier_try: datetime | None,
        buttons: tuple[Button, ...] = (),
    ) -> Spoken:
        """Post `text` (with `buttons` under it) in the account's DM under `key` (looking for an earlier
        try's post first).

        Raises :class:`DeliveryError` (``retryable`` for passing trouble, not for a closed DM).
        """
        messenger = self.outbox.messenger(account.platform)
        if messenger is None:
            raise DeliveryError(f"{account.platform} is not connected right now", retryable=True)
        if isinstance(messenger, PartMessenger):
            delivery = await messenger.send_part(
                account, OutboundPart(key, text=text, buttons=buttons), earlier_try=earlier_try
            )
        else:
            delivery = await messenger.send_to_account(account, text)
        conversation_id = await self._conversations.open_for(delivery.conversation, user_id)
        return Spoken(delivery, conversation_id)
