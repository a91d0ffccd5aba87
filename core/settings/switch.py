"""An on/off setting kept in ``users.settings`` (voice, link previews): declared in a few lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.db.repositories import UserRecord
from core.identity.profile import Profiles
from core.settings.field import Asker, Invalid, SettingField


def switch_field(
    profiles: Profiles,
    *,
    name: str,
    key: str,
    label: str,
    help: str,
    when_on: Callable[[Callable[[str], str]], str],
    when_off: Callable[[Callable[[str], str]], str],
    saved_on: str,
    saved_off: str,
    refusal: str,
) -> SettingField:
    """A field that is "on" or "off" (off until chosen), stored under ``key``.

    ``when_on`` / ``when_off`` phrase the overview line from the platform's hint; ``refusal`` answers any other word.
    """

    async def parse(text: str, _asker: Asker) -> str:
        value = text.lower()
        if value not in ("on", "off"):
            raise Invalid(refusal)
        return value

    def read(person: UserRecord) -> str:
        return "on" if person.settings.get(key) == "on" else "off"

    def describe(value: Any, _asker: Asker, hint: Callable[[str], str]) -> str:
        return when_on(hint) if value == "on" else when_off(hint)

    async def write(user_id: int, value: str) -> None:
        await profiles.store_settings(user_id, {key: value})

    return SettingField(
        name=name,
        label=label,
        help=help,
        parse=parse,
        read=read,
        write=write,
        describe=describe,
        saved=lambda value: saved_on if value == "on" else saved_off,
        choices=lambda: [("off", "Off"), ("on", "On")],
        form_hint=help,
        max_length=3,
    )
