"""The web as a way out for `speak`: a message for a person's web account lands in their web chat.

The web has no platform account of its own: a person who has chatted in the web app
(their web conversation exists) is reachable there, as the account ``web:app:user-N``.
Delivering means the message is kept in that conversation (`speak` stores it, as on
every platform) and pushed at once to the person's open chat sockets; with none open
it is simply there at the next load of the chat, like a DM waiting to be read.
Buttons (a reminder's Done, Snooze, Reschedule) go with the live message; a press comes back
on the socket and runs the button's command (bot/webapp/chat.py). The history keeps the text
only, as on every platform, so a reloaded page shows the message without its buttons.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.webapp.deps import web_place
from bot.webapp.live import LiveAnswers
from bot.webapp.markdown import to_html
from core.buttons import Button
from core.clock import Clock
from core.db.database import Database
from core.db.repositories import ConversationRepository
from core.identity.web_sessions import WebSessions
from core.messenger import Delivery, DeliveryError
from core.outbound import OutboundPart
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

PLATFORM = "web"
_PREFIX = "user-"


def web_account(user_id: int) -> PlatformIdentity:
    """The person's account on the web (what the Outbox lists beside their chat accounts)."""
    return PlatformIdentity(PLATFORM, "app", f"{_PREFIX}{user_id}", "web chat")


def _person_of(user_ref: str) -> int:
    number = user_ref.removeprefix(_PREFIX)
    if not user_ref.startswith(_PREFIX) or not number.isdigit():
        raise DeliveryError(f"{user_ref!r} is not a web chat", retryable=False)
    return int(number)


class WebMessenger:
    """Posts to a person's web chat (a :class:`core.messenger.Messenger`, and the directory of web accounts)."""

    platform = PLATFORM

    def __init__(self, database: Database, live: LiveAnswers, sessions: WebSessions, *, clock: Clock) -> None:
        """``sessions`` tells which open tabs are still signed in: a tab signed out gets nothing more."""
        self._conversations = ConversationRepository(database, clock=clock)
        self._live = live
        self._sessions = sessions

    async def accounts_of(self, user_id: int) -> list[PlatformIdentity]:
        """The person's web account when they have chatted on the web (else they would never look there)."""
        return [web_account(user_id)] if await self._conversations.find_open(web_place(user_id)) else []

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Push the message to the person's open chats; `speak` keeps it in their web conversation."""
        return await self._tell(_person_of(account.user_id), text, files)

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """The same, for the person's web conversation."""
        if place.platform != PLATFORM:
            raise DeliveryError(f"{place.platform} is not the web", retryable=False)
        return await self._tell(_person_of(place.channel), text, files)

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        """One part of `speak`'s post (a :class:`core.outbound.PartMessenger`): the text with its buttons, or a
        file named. Nothing to look back for: a post that reached the page before a crash is not in the history."""
        files = (part.file,) if part.file is not None else ()
        return await self._tell(_person_of(account.user_id), part.text, files, part.buttons)

    async def _tell(
        self, user_id: int, text: str, files: Sequence[OutgoingFile], buttons: tuple[Button, ...] = ()
    ) -> Delivery:
        shown = "\n\n".join([*([text] if text else []), *(f"(attached: {f.filename})" for f in files)])
        frame = {"type": "spoken", "html": str(to_html(shown)),
                 "buttons": [{"label": b.label, "action": b.action_id} for b in buttons]}  # fmt: skip
        await self._live.tell(user_id, frame, signed_in=self._signed_in)
        return Delivery(PLATFORM, web_place(user_id), ())

    async def _signed_in(self, cookie: str | None) -> bool:
        return await self._sessions.session(cookie) is not None
