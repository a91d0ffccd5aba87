"""The daily log's settings: when a person's day closes, and where its summary goes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.daily.prefs import DAILY_PLATFORM, DAILY_TIME, OFF, PLATFORMS, closing_time, parse_daily_time
from core.db.repositories import UserRecord
from core.identity.profile import Profiles
from core.settings.field import Asker, Invalid, SettingField

LAST = "last"  # typed (and the form's choice) for "the platform I last wrote on", the default


def daily_time_field(profiles: Profiles, *, default_time: str) -> SettingField:
    """``daily_time``: "HH:MM" in the person's time zone, or off (``users.settings``); ``default_time`` until set."""

    async def parse(text: str, _asker: Asker) -> str:
        try:
            at = parse_daily_time(text)
        except ValueError:
            raise Invalid("Give the daily time as HH:MM (e.g. 22:30) or off.") from None
        return at.strftime("%H:%M") if at else OFF

    def read(person: UserRecord) -> str | None:
        value = person.settings.get(DAILY_TIME)
        return value if isinstance(value, str) and value.strip() else None

    def describe(value: Any, _asker: Asker, hint: Callable[[str], str]) -> str:
        at = closing_time({DAILY_TIME: value}, default_time)
        if at is None:
            return f"Daily summaries are off. Turn them on with {hint('22:30')}."
        default = "" if value else " (the default)"
        return f"I close your day at {at:%H:%M} your time{default}. Change it with {hint('22:30')} (or off)."

    async def write(user_id: int, value: str) -> None:
        await profiles.store_settings(user_id, {DAILY_TIME: value})

    def saved(value: str) -> str:
        if value == OFF:
            return "Daily summaries are off. /export still works."
        return f"I'll close your day at {value} your time."

    return SettingField(
        name="daily_time",
        label="Daily summary time",
        help="When your day closes, HH:MM or off",
        parse=parse,
        read=read,
        write=write,
        describe=describe,
        saved=saved,
        placeholder=default_time,
        form_hint=f"HH:MM in your time zone, or off; empty keeps the default ({default_time})",
        max_length=8,
    )


def daily_platform_field(profiles: Profiles, *, platforms: Sequence[str]) -> SettingField:
    """``daily_platform``: which DM takes the daily summary; only a platform configured here (``platforms``)."""
    configured = tuple(p for p in PLATFORMS if p in platforms)

    async def parse(text: str, _asker: Asker) -> str:
        choice = text.lower()
        if choice == LAST:
            return ""
        if choice in configured:
            return choice
        if choice in PLATFORMS:
            raise Invalid(
                f"{choice.capitalize()} is not configured on this assistant; "
                f"the daily summary can go to: {', '.join(configured)}."
            )
        raise Invalid(f"The daily platform is one of: {', '.join(configured)} (or {LAST}: where you wrote last).")

    def read(person: UserRecord) -> str | None:
        value = person.settings.get(DAILY_PLATFORM)
        return value if value in PLATFORMS else None

    def describe(value: Any, _asker: Asker, hint: Callable[[str], str]) -> str:
        return f"Your daily summary comes to {_where(value)}. Change it with {hint('|'.join(configured))}."

    async def write(user_id: int, value: str) -> None:
        await profiles.store_settings(user_id, {DAILY_PLATFORM: value})

    return SettingField(
        name="daily_platform",
        label="Daily summary goes to",
        help=f"Where the daily summary goes: {' or '.join(configured or PLATFORMS)}",
        parse=parse,
        read=read,
        write=write,
        describe=describe,
        saved=lambda value: f"Your daily summary will come to {_where(value or None)}.",
        shown=lambda value: value or LAST,
        choices=lambda: [(LAST, "Where I wrote last"), *((p, p.capitalize()) for p in configured)],
        form_hint="The DM that gets your daily summary",
        unavailable=None
        if configured
        else "No chat platform (Discord or Slack) is configured on this assistant to take the daily summary.",
    )


def _where(platform: str | None) -> str:
    return f"your {platform.capitalize()} DM" if platform else "the DM of the platform you last wrote on"
