"""Commands of sign-in and Google: /signout, /connect, /disconnect, /calendar, /account (a link to the
settings page), and /settings name | drive-folder.

``/settings`` keeps its time zone option (handled by the command it replaces)
and gains ``name`` and ``drive_folder``.  Slack and the terminal hand over one
line, so ``/settings name Ada Lovelace`` and ``/settings drive-folder Logs``
are read from the leading word as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.chat import ChatService
from core.commands import Command, CommandOption, CommandReply, CommandRequest, setting_hint
from core.google.api import GoogleApiError
from core.google.availability import GoogleAvailability
from core.google.calendar import CalendarClient
from core.google.connection import GoogleConnections
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded, GoogleUnavailable
from core.google.drive import DriveClient
from core.google.tools import describe
from core.identity.linking import AccountLinker
from core.identity.profile import MAX_NAME, Profiles
from core.identity.signin import SignIn
from core.timefmt import zone
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

DRIVE_FOLDER = "drive_folder_id"  # key in users.settings: the folder is kept by id (renames and moves are fine)
DRIVE_FOLDER_NAME = "drive_folder_name"  # its name when chosen, only to show it
NOT_SET_UP = "Google is not set up on this assistant (its owner has not configured a Google client)."
_SETTING = re.compile(
    r"^\s*(name|drive[-_ ]?folder|timezone|time[-_ ]?zone)(?:\s*[:=]\s*|\s+)(.*)$", re.IGNORECASE | re.DOTALL
)


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
        profiles: Profiles,
        google: GoogleParts | None,
        settings_command: Command | None,
        default_folder: str,
        settings_link: Callable[[PlatformIdentity, int], Awaitable[str]] | None = None,
    ) -> None:
        """``settings_link`` (SettingsAccess.link) makes /account answer with a link to the settings page."""
        self.chat = chat
        self.settings_link = settings_link
        self.linker = linker
        self.profiles = profiles
        self.google = google
        self.timezone_command = settings_command
        self.default_folder = default_folder

    async def _user_id(self, request: CommandRequest) -> int | None:
        admission = await self.chat.people.admit(request.identity)
        return admission.user.id if admission.allowed and admission.user is not None else None

    async def signout(self, request: CommandRequest) -> CommandReply:
        linked = await self.linker.unlink(request.identity)
        await self.chat.people.changed()
        if not linked:
            return CommandReply("This account was not signed in with an email; nothing to sign out of.", private=True)
        return CommandReply(
            "Signed out: this account is no longer linked to your email. Write to me to sign in again.", private=True
        )

    async def account(self, request: CommandRequest) -> CommandReply:
        if self.settings_link is None:
            return CommandReply(
                "The settings page is not set up on this assistant (its owner needs to set PUBLIC_URL and "
                "SECRET_KEY). /settings works here in the chat.",
                private=True,
            )
        user_id = await self._user_id(request)
        if user_id is None:
            return CommandReply("Sign in first.", private=True)
        link = await self.settings_link(request.identity, user_id)
        return CommandReply(
            f"Your settings page: {link}\n(The link works once, for 10 minutes, and only for you. Don't share it.)",
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

    async def settings(self, request: CommandRequest) -> CommandReply:
        options = _spread(request.options)
        name, folder = options.get("name", "").strip(), options.get("drive_folder", "").strip()
        user_id = await self._user_id(request)
        if user_id is None:
            return CommandReply("Sign in first.", private=True)
        lines: list[str] = []
        if name:
            if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
                return CommandReply(f"A name is at most {MAX_NAME} characters on one line.", private=True)
            await self.profiles.set_display_name(user_id, name)
            await self.chat.people.changed()
            lines.append(f"I'll call you {name}.")
        if folder:
            lines.append(await self._drive_folder(user_id, folder))
        if options.get("timezone", "").strip() or not lines:
            if self.timezone_command is None:
                lines.append("Time zones cannot be changed here.")
            else:
                timezone_request = CommandRequest(
                    request.identity, request.place, {"timezone": options.get("timezone", "")}
                )
                lines.append((await self.timezone_command.handler(timezone_request)).text)
                if not name and not folder and not options.get("timezone", "").strip():
                    lines += await self._overview(user_id, request.identity.platform)
        return CommandReply("\n".join(lines), private=True)

    async def _overview(self, user_id: int, platform: str) -> list[str]:
        shown_name = await self.profiles.display_name(user_id)
        lines = [f"I call you {shown_name}. Change it with {setting_hint(platform, 'name', '<name>')}."]
        if self.google is not None:
            chosen = (await self.profiles.settings(user_id)).get(DRIVE_FOLDER_NAME) or self.default_folder
            hint = setting_hint(platform, "drive_folder", "<name>")
            lines.append(f"Your files go to the Drive folder “{chosen}”. Change it with {hint}.")
        return lines

    async def _drive_folder(self, user_id: int, name: str) -> str:
        if self.google is None:
            return NOT_SET_UP
        if len(name) > 200 or "/" in name:
            return "A Drive folder name is at most 200 characters, without '/'."
        try:
            folder = await self.google.drive.ensure_folder(user_id, folder_id=None, name=name)
        except GoogleNotConnected:
            return "Connect Google first: /connect google."
        except GoogleReconnectNeeded:
            self.google.availability.forget(user_id)
            return "Google no longer accepts the connection: run /connect google again."
        except (GoogleUnavailable, GoogleApiError) as exc:
            log.warning("drive folder for user %s failed: %s", user_id, exc)
            return f"Google Drive could not be reached ({exc}); nothing changed."
        await self.profiles.update_settings(user_id, {DRIVE_FOLDER: folder.id, DRIVE_FOLDER_NAME: folder.name})
        await self.chat.people.changed()
        return f"Files will go to the Drive folder “{folder.name}” {folder.web_view_link}".rstrip()

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


def _spread(options: dict[str, str]) -> dict[str, str]:
    """Options from one typed line (Slack, terminal): ``name Ada`` or ``drive-folder Logs`` in the first option."""
    spread = {k: v for k, v in options.items() if v and v.strip()}
    for key in ("timezone", "name", "drive_folder"):
        match = _SETTING.match(spread.get(key, ""))
        if match and match.group(2).strip():
            word = match.group(1).lower().replace("-", "_").replace(" ", "_")
            target = "timezone" if word in ("timezone", "time_zone") else "drive_folder" if "drive" in word else "name"
            if target != key:
                del spread[key]
                spread[target] = match.group(2).strip()
    return spread


def identity_commands(handlers: IdentityCommands) -> list[Command]:
    """The commands to add to the CommandSet (``settings`` replaces the built-in one, keeping its time zone)."""
    commands = [
        Command("signout", "Unlink this account from your email", handlers.signout),
        Command("account", "A private link to your settings page in the browser", handlers.account, usage="/account"),
        Command(
            "settings",
            "See or change your settings (time zone, name, Drive folder)",
            handlers.settings,
            options=(
                CommandOption("timezone", "Your IANA time zone, e.g. Europe/Paris"),
                CommandOption("name", "What I should call you"),
                CommandOption("drive_folder", "The Google Drive folder for your files"),
            ),
            usage="/settings timezone:Europe/Paris, /settings name Ada, /settings drive-folder Logs",
        ),
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
