"""Commands of sign-in and Google: /signout, /connect, /disconnect, /calendar and /account (a link to the
settings page). The name and Drive folder settings are fields of the settings registry
(core/identity/settings_fields.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.chat import ChatService
from core.commands import Command, CommandOption, CommandReply, CommandRequest
from core.google.api import GoogleApiError
from core.google.availability import GoogleAvailability
from core.google.calendar import CalendarClient
from core.google.connection import GoogleConnections
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded, GoogleUnavailable
from core.google.drive import DriveClient
from core.google.tools import describe
from core.identity.linking import AccountLinker
from core.identity.settings_fields import NOT_SET_UP
from core.identity.signin import SignIn
from core.timefmt import zone
from core.types import PlatformIdentity

log = logging.getLogger(__name__)


@dataclass
class GoogleParts:
    """The Google services the commands use (None in the container when Google is not configured)."""

    signin: SignIn
    connections: GoogleConnections
    drive: DriveClient
    calendar: CalendarClient
    availability: GoogleAvailability


class IdentityCommands:
    """Handlers of the identity and Google commands."""

    def __init__(
        self,
        *,
        chat: ChatService,
        linker: AccountLinker,
        google: GoogleParts | None,
        settings_link: Callable[[PlatformIdentity, int], Awaitable[str]] | None = None,
    ) -> None:
        """``settings_link`` (SettingsAccess.link) makes /account answer with a link to the settings page."""
        self.chat = chat
        self.settings_link = settings_link
        self.linker = linker
        self.google = google

    async def _user_id(self, request: CommandRequest) -> int | None:
        admission = await self.chat.admit(request.identity)
        return admission.user.id if admission.allowed and admission.user is not None else None

    async def signout(self, request: CommandRequest) -> CommandReply:
        linked = await self.linker.unlink(request.identity)  # every process decides this account afresh
        if not linked:
            return CommandReply("This account was not signed in with an email; nothing to sign out of.", private=True)
        return CommandReply(
            "Signed out: this account is no longer linked to your email. Write to me to sign in again.", private=True
        )

    async def account(self, request: CommandRequest) -> CommandReply:
        if self.settings_link is None:
            return CommandReply(
                "The web app is not set up on this assistant (its owner needs to set SECRET_KEY). "
                "/settings works here in the chat.",
                private=True,
            )
        user_id = await self._user_id(request)
        if user_id is None:
            return CommandReply("Sign in first.", private=True)
        link = await self.settings_link(request.identity, user_id)
        return CommandReply(
            f"Your link to the web app (chat, timeline, memories, settings): {link}\n"
            "(The link works once, for 10 minutes, and only for you. Don't share it.)",
            private=True,
        )

    async def connect(self, request: CommandRequest) -> CommandReply:
        service = request.options.get("service", "google").strip().lower() or "google"
        if service != "google":
            return CommandReply(f"I can only connect google, not {service!r}.", private=True)
        if self.google is None:
            return CommandReply(NOT_SET_UP, private=True)
        user_id = await self._user_id(request)
        if user_id is None:
            return CommandReply("Sign in first, then connect Google.", private=True)
        link = await self.google.signin.start_connect(request.identity, user_id)
        return CommandReply(
            f"Connect your Google Drive and Calendar here: {link}\n"
            "(The link works once, for 10 minutes. I will only create or change calendar events you ask for.)",
            private=True,
        )

    async def disconnect(self, request: CommandRequest) -> CommandReply:
        service = request.options.get("service", "google").strip().lower() or "google"
        if service != "google":
            return CommandReply(f"I can only disconnect google, not {service!r}.", private=True)
        if self.google is None:
            return CommandReply(NOT_SET_UP, private=True)
        user_id = await self._user_id(request)
        if user_id is None or not await self.google.connections.disconnect(user_id):
            return CommandReply("Google was not connected.", private=True)
        self.google.availability.forget(user_id)
        return CommandReply("Google is disconnected: access revoked and the stored token deleted.", private=True)

    async def calendar(self, request: CommandRequest) -> CommandReply:
        if self.google is None:
            return CommandReply(NOT_SET_UP, private=True)
        user_id = await self._user_id(request)
        if user_id is None:
            return CommandReply("Sign in first.", private=True)
        tz = zone(await self.chat.user_timezone(request.identity))
        today = self.chat.clock().astimezone(tz).date()
        word = request.options.get("day", "").strip().lower() or "today"
        if word == "today":
            day = today
        elif word == "tomorrow":
            day = today + timedelta(days=1)
        else:
            try:
                day = date.fromisoformat(word)
            except ValueError:
                return CommandReply("Use /calendar today, /calendar tomorrow or /calendar 2026-03-14.", private=True)
        start = datetime.combine(day, time(), tz)
        try:
            events = await self.google.calendar.list_events(
                user_id, start=start, end=start + timedelta(days=1), timezone=tz.key
            )
        except GoogleNotConnected:
            return CommandReply("Connect Google first: /connect google.", private=True)
        except GoogleReconnectNeeded:
            self.google.availability.forget(user_id)
            return CommandReply("Google no longer accepts the connection: run /connect google again.", private=True)
        except (GoogleUnavailable, GoogleApiError) as exc:
            log.warning("/calendar for user %s failed: %s", user_id, exc)
            return CommandReply(f"Google Calendar could not be reached ({exc}).", private=True)
        head = f"{day:%A %d %B %Y} ({tz.key})"
        if not events:
            return CommandReply(f"{head}: nothing in your calendar.", private=True)
        return CommandReply("\n".join([head + ":", *(describe(e)[2:] for e in events)]), private=True)


def identity_commands(handlers: IdentityCommands) -> list[Command]:
    """The commands to add to the CommandSet."""
    commands = [
        Command("signout", "Unlink this account from your email", handlers.signout),
        Command("account", "A private link that signs you in to the web app", handlers.account, usage="/account"),
    ]
    if handlers.google is not None:
        commands += [
            Command(
                "connect",
                "Connect your Google Drive and Calendar",
                handlers.connect,
                options=(CommandOption("service", "What to connect: google", required=True),),
                usage="/connect google",
            ),
            Command(
                "disconnect",
                "Disconnect Google (revokes access)",
                handlers.disconnect,
                options=(CommandOption("service", "What to disconnect: google", required=True),),
                usage="/disconnect google",
            ),
            Command(
                "calendar",
                "Your agenda: today, tomorrow or a date",
                handlers.calendar,
                options=(CommandOption("day", "today, tomorrow or YYYY-MM-DD"),),
                slow=True,
                usage="/calendar tomorrow",
            ),
        ]
    return commands
