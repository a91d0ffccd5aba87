"""The settings registry: every per-person setting, each declared once by its feature.

Features add their fields (``registry.add(field)``); ``/settings`` on every chat
platform (core/settings/chat.py) and the web form (core/settings/form.py) are
views of the same fields. :meth:`SettingsRegistry.change` checks every typed
value before storing any, stores them, and refreshes what depends on them by
itself: the people revision moves (every process re-reads the person at its
next message, and drops its cached decisions) and this process's listeners
hear which fields changed. No caller has to remember ``People.changed()``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.db.repositories import UserRecord
from core.settings.field import Asker, Invalid, SettingField

log = logging.getLogger(__name__)

Listener = Callable[[int, frozenset[str]], None]  # (user id, names of the fields that changed)


class PersonStore(Protocol):
    """What the registry needs of :class:`core.people.People`."""

    async def profile(self, user_id: int) -> UserRecord | None:
        """The person's stored record, read fresh."""

    async def changed(self) -> None:
        """Tell every process that what it cached about people is stale."""


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did: ``saved`` sentences, or ``errors`` (then nothing was stored). ``changed`` names the
    fields stored."""

    saved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changed: frozenset[str] = frozenset()


class SettingsRegistry:
    """The fields, in the order they were added, and the one way to change them."""

    def __init__(self, people: PersonStore) -> None:
        self.people = people
        self._fields: dict[str, SettingField] = {}
        self._added: list[Callable[[], None]] = []
        self._listeners: list[Listener] = []

    def add(self, setting: SettingField) -> None:
        """Register a field (its name must be new)."""
        if setting.name in self._fields:
            raise ValueError(f"the setting {setting.name!r} is declared twice")
        self._fields[setting.name] = setting
        for added in self._added:
            added()

    def on_added(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every :meth:`add` (a view that lists the fields rebuilds itself)."""
        self._added.append(callback)

    def subscribe(self, listener: Listener) -> None:
        """Hear each stored change in this process: (user id, names of the changed fields)."""
        self._listeners.append(listener)

    def fields(self, *, every: bool = False) -> list[SettingField]:
        """The fields in order; only those available on this assistant unless ``every``."""
        return [f for f in self._fields.values() if every or f.unavailable is None]

    def find(self, typed: str) -> SettingField | None:
        """The field a person means by ``typed``: ``daily-time``, ``daily_time``, ``Daily time``, ``time zone``."""
        key = _key(typed)
        return next((f for f in self._fields.values() if key in {_key(n) for n in (f.name, *f.aliases)}), None)

    def pattern(self) -> re.Pattern[str]:
        """A leading field name in a typed line (``daily-time 22:30``, ``voice:on``): group 1 the name, 2 the value."""
        names = sorted({n for f in self._fields.values() for n in (f.name, *f.aliases)}, key=len, reverse=True)
        words = "|".join(r"[-_ ]?".join(re.escape(part) for part in re.split(r"[_ ]+", n)) for n in names)
        return re.compile(rf"^\s*({words})(?:\s*[:=]\s*|\s+)(.*)$", re.IGNORECASE | re.DOTALL)

    async def asker(self, user_id: int, platform: str) -> Asker:
        """The person behind ``user_id`` as stored now, asking on ``platform``."""
        person = await self.people.profile(user_id)
        if person is None:
            raise LookupError(f"user {user_id} does not exist")
        return Asker(person, platform)

    def current(self, asker: Asker) -> dict[str, Any]:
        """Every available field's stored value (None: the default)."""
        return {f.name: f.read(asker.person) for f in self.fields()}

    async def change(self, asker: Asker, typed: Mapping[str, str], *, skip_unchanged: bool = False) -> Change:
        """Check every typed value, then store them all (or none) and refresh every cache that depends on them.

        ``typed`` maps field names to what was typed; an empty value is "leave as is" (a ``required`` field
        refuses it). A value equal to the stored one is never stored again; ``skip_unchanged`` (the web form) also leaves it
        out of the sentences said back.
        """
        errors: list[str] = []
        parsed: list[tuple[SettingField, Any]] = []  # to store
        confirmed: list[tuple[SettingField, Any]] = []  # to say back (stored, or already so)
        for name, text in typed.items():
            setting = self._fields.get(name)
            if setting is None:
                errors.append(f"There is no setting called {name!r}.")
                continue
            value = text.strip()
            if setting.unavailable is not None:
                if value:
                    errors.append(setting.unavailable)
                continue
            if not value:
                if setting.required:
                    errors.append(setting.required)
                continue
            if skip_unchanged and value == setting.shown(setting.read(asker.person)):
                continue
            try:
                new = await setting.parse(value, asker)
            except Invalid as refused:
                errors.append(str(refused))
                continue
            if new == setting.read(asker.person):
                if not skip_unchanged:
                    confirmed.append((setting, new))  # said back, as asked, but nothing to store or tell
                continue
            parsed.append((setting, new))
            confirmed.append((setting, new))
        if errors:
            log.info("settings: user %s sent %d refused value(s)", asker.person.id, len(errors))
            return Change(errors=errors)
        for setting, new in parsed:
            await setting.write(asker.person.id, new)
        changed = frozenset(s.name for s, _ in parsed)
        if changed:
            await self.people.changed()
            log.info("settings: user %s changed %s on %s", asker.person.id, ", ".join(sorted(changed)), asker.platform)
            for listener in self._listeners:
                listener(asker.person.id, changed)
        return Change(saved=[s.saved(new) for s, new in confirmed], changed=changed)


def _key(name: str) -> str:
    return re.sub(r"[-_ ]+", "", name.strip().lower())
