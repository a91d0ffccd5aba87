"""Posting a part exactly once: a post that carries an idempotency key and can be found again.

A scheduled post (the daily log) is made of parts: a text, a file. Each part is
recorded in the database before it is sent, with a key made once; a process
that died between the platform accepting the part and the record saying so
leaves the record ``sending``. The next try hands the same key and the time of
the first try to the platform's :class:`PartMessenger`, which looks for what
was already posted under it (Discord: the bot's messages since then, and the
key as the post's nonce; Slack: the key in the message metadata) and sends
only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.buttons import Button
from core.messenger import Delivery
from core.types import OutgoingFile, PlatformIdentity


@dataclass(frozen=True, slots=True)
class OutboundPart:
    """One part of a post: its text, or one file. ``key`` is the same on every try.

    ``buttons`` go under a text's last message (see :mod:`core.buttons`)."""

    key: str
    text: str = ""
    file: OutgoingFile | None = None
    buttons: tuple[Button, ...] = ()

    def __post_init__(self) -> None:
        if (self.file is None) == (not self.text):
            raise ValueError("a part is either a text or a file")
        if self.buttons and self.file is not None:
            raise ValueError("buttons go with a text")


@runtime_checkable
class PartMessenger(Protocol):
    """A platform's way out for parts that must arrive once (implemented by the Discord and Slack messengers)."""

    platform: str

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        """Post ``part`` in the account's DM.

        ``earlier_try`` is when a try that may have reached the platform began: what
        it posted is looked for first, and only what is missing is sent. Raises
        :class:`core.messenger.DeliveryError` when the part could not be posted.
        """
        ...
