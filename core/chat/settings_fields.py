"""The time zone setting: every feature reads it (the daily log, reminders, the model's clock line)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.db.repositories import UserRecord
from core.people import People
from core.settings.field import Asker, Invalid, SettingField
from core.settings.registry import SettingsRegistry
from core.timefmt import canonical_zone

if TYPE_CHECKING:
    from core.chat.service import ChatService


def timezone_field(people: People, *, default: str) -> SettingField:
    """``timezone``: an IANA name, stored on the user (``users.timezone``); ``default`` until one is chosen."""

    async def parse(text: str, _asker: Asker) -> str:
        zone = canonical_zone(text)
        if zone is None:
            shown = text if len(text) <= 60 else text[:60] + "…"
            raise Invalid(
                f"“{shown}” is not a time zone I know. Use an IANA name such as Europe/Paris or America/New_York."
            )
        return zone

    def read(person: UserRecord) -> str | None:
        return person.timezone or None

    def describe(value: Any, _asker: Asker, hint: Callable[[str], str]) -> str:
        return f"Your time zone is {value or default}. Change it with {hint('Europe/Paris')} (any IANA name)."

    return SettingField(
        name="timezone",
        label="Time zone",
        help="Your IANA time zone, e.g. Europe/Paris",
        parse=parse,
        read=read,
        write=people.store_timezone,
        describe=describe,
        saved=lambda zone: f"Time zone set to {zone}.",
        placeholder=default,
        form_hint="An IANA name, e.g. Europe/Paris",
        max_length=64,
        aliases=("time_zone", "tz"),
    )


def timezone_registry(chat: ChatService) -> SettingsRegistry:
    """A registry of the chat service's own setting alone, the time zone (a command set built without the
    process's registry: tests, tools)."""
    registry = SettingsRegistry(chat.people)
    registry.add(timezone_field(chat.people, default=chat.default_timezone))
    return registry
