"""What the settings page shows of a person, and the changes it may make (checked before anything is stored)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from core.chat.turn import VOICE_SETTING
from core.daily.prefs import DAILY_PLATFORM, DAILY_TIME, DRIVE_FOLDER_NAME, OFF, parse_daily_time
from core.db.repositories import UserRecord
from core.identity.profile import MAX_NAME, Profiles
from core.people import People
from core.timefmt import canonical_zone

log = logging.getLogger(__name__)

GoogleStatus = Callable[[int], Awaitable[str]]  # user id -> "connected" | "not_connected" | "broken"
_GOOGLE_WORDS = {
    "connected": "Connected",
    "not_connected": "Not connected (use /connect google in the chat)",
    "broken": "Needs reconnecting (Google refused the connection: use /connect google)",
}


@dataclass(frozen=True, slots=True)
class AccountView:
    """Everything the page shows, already in words."""

    display_name: str
    email: str
    accounts: list[tuple[str, str]]  # (platform, workspace)
    timezone: str  # the user's own, or "" when they use the default
    default_timezone: str
    google: str
    drive_folder: str
    daily_time: str  # the user's own "HH:MM" / "off", or "" when they use the default
    daily_default: str
    daily_platform: str
    voice: bool


@dataclass
class Outcome:
    """What a submitted form did: sentences for the page. Nothing is stored when there are errors."""

    saved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class AccountSettings:
    """Reads a user's settings for the page and applies the page's form."""

    def __init__(
        self,
        *,
        people: People,
        profiles: Profiles,
        default_timezone: str,
        default_daily_time: str,
        default_folder: str,
        google_status: GoogleStatus | None = None,
    ) -> None:
        """``google_status`` is None when Google is not configured on this assistant."""
        self.people = people
        self.profiles = profiles
        self.default_timezone = default_timezone
        self.default_daily_time = default_daily_time
        self.default_folder = default_folder
        self.google_status = google_status

    async def view(self, user: UserRecord) -> AccountView:
        """The current settings of ``user`` (read fresh from the database)."""
        settings = await self.profiles.settings(user.id)
        accounts = [(a.platform, a.workspace) for a in await self.people.accounts_of(user.id)]
        if self.google_status is None:
            google, folder = "Not available on this assistant", "—"
        else:
            status = str(await self.google_status(user.id))
            google = _GOOGLE_WORDS.get(status, status)
            folder = str(settings.get(DRIVE_FOLDER_NAME) or f"{self.default_folder} (default)")
        voice = settings.get(VOICE_SETTING) == "on"
        own_time = settings.get(DAILY_TIME)
        return AccountView(
            display_name=await self.profiles.display_name(user.id) or user.display_name,
            email=user.email or "",
            accounts=sorted(set(accounts)),
            timezone=user.timezone or "",
            default_timezone=self.default_timezone,
            google=google,
            drive_folder=folder,
            daily_time=own_time if isinstance(own_time, str) else "",
            daily_default=self.default_daily_time,
            daily_platform=str(settings[DAILY_PLATFORM]).capitalize()
            if settings.get(DAILY_PLATFORM)
            else "the account you wrote from last",
            voice=voice,
        )

    async def apply(self, user: UserRecord, form: Mapping[str, str]) -> Outcome:
        """Check every field, then store those that changed and tell every process (``People.changed``)."""
        current = await self.view(user)
        outcome = Outcome()
        name = form.get("display_name", "").strip()
        typed_zone = form.get("timezone", "").strip()
        typed_time = form.get("daily_time", "").strip()
        voice = form.get("voice", "").strip().lower()
        new_name = new_zone = new_time = new_voice = None
        if not name:
            outcome.errors.append("Your name cannot be empty.")
        elif len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            outcome.errors.append(f"A name is at most {MAX_NAME} characters on one line.")
        elif name != current.display_name:
            new_name = name
        if typed_zone:
            zone = canonical_zone(typed_zone)
            if zone is None:
                shown = typed_zone if len(typed_zone) <= 60 else typed_zone[:60] + "…"
                outcome.errors.append(
                    f"“{shown}” is not a time zone I know. Use an IANA name such as Europe/Paris or America/New_York."
                )
            elif zone != current.timezone:
                new_zone = zone
        if typed_time:
            try:
                at = parse_daily_time(typed_time)
            except ValueError:
                outcome.errors.append("Give the daily time as HH:MM (e.g. 22:30) or off.")
            else:
                stored = at.strftime("%H:%M") if at else OFF
                if stored != current.daily_time:
                    new_time = stored
        if voice not in ("", "on", "off"):
            outcome.errors.append("Voice is on or off.")
        elif voice and (voice == "on") != current.voice:
            new_voice = voice
        if outcome.errors:
            log.info("settings page: user %s sent a form with %d problem(s)", user.id, len(outcome.errors))
            return outcome
        if new_name is not None:
            await self.profiles.set_display_name(user.id, new_name)
            outcome.saved.append(f"I'll call you {new_name}.")
        if new_zone is not None:
            await self.people.set_timezone(user.id, new_zone)
            outcome.saved.append(f"Time zone set to {new_zone}.")
        settings: dict[str, str] = {}
        if new_time is not None:
            settings[DAILY_TIME] = new_time
            outcome.saved.append(
                "Daily summaries are off." if new_time == OFF else f"I'll close your day at {new_time} your time."
            )
        if new_voice is not None:
            settings[VOICE_SETTING] = new_voice
            outcome.saved.append(
                "Every answer will also come as speech." if new_voice == "on" else "Answers come as text only."
            )
        if settings:
            await self.profiles.update_settings(user.id, settings)
        if outcome.saved:
            await self.people.changed()
            log.info("settings page: user %s changed %d setting(s)", user.id, len(outcome.saved))
        return outcome
