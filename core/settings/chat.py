"""``/settings`` on the chat platforms, as a view of the registry.

``/settings`` alone lists every current value, each with how to change it in the
caller's own syntax: Discord's command options are ``name:value``; Slack and the
terminal hand over one typed line, so there it is ``/settings daily-time 22:30``.
``/settings NAME VALUE`` checks every value before storing any, and answers with
what was saved or why nothing was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial

from core.settings.registry import SettingsRegistry


def setting_hint(platform: str, option: str, value: str) -> str:
    """How to change one setting on ``platform``: ``/settings daily_time:22:30`` on Discord,
    ``/settings daily-time 22:30`` where one line is typed (Slack, the terminal)."""
    if platform == "discord":
        return f"/settings {option}:{value}"
    return f"/settings {option.replace('_', '-')} {value}"


class ChatSettings:
    """What ``/settings`` answers on a chat platform."""

    def __init__(self, registry: SettingsRegistry) -> None:
        self.registry = registry

    def options(self) -> list[tuple[str, str]]:
        """(name, help) of every field, in order: the command's options (Discord lists them)."""
        return [(f.name, f.help) for f in self.registry.fields()]

    def spread(self, options: Mapping[str, str]) -> dict[str, str]:
        """The typed values by field name.

        One-line platforms put the whole line in the first option (``/settings daily-time 22:30``,
        ``/settings name Ada Lovelace``): a field's name leading a value says where it belongs.
        Several settings can share a line when the values before the last are one word each
        (``daily-time 22:30 daily-platform slack``); the last one takes the rest.
        """
        spread = {k: v.strip() for k, v in options.items() if v and v.strip()}
        fields = self.registry.fields()
        if not fields or fields[0].name not in spread:
            return spread
        pattern = self.registry.pattern()
        found = _leading_names(spread[fields[0].name], pattern, self.registry)
        if found:
            del spread[fields[0].name]
            spread.update({k: v for k, v in found.items() if k not in spread})
        return spread

    async def answer(self, user_id: int, platform: str, options: Mapping[str, str]) -> str:
        """The overview (no values typed), the saved changes, or every reason nothing was saved."""
        asker = await self.registry.asker(user_id, platform)
        typed = self.spread(options)
        if not typed:
            lines = []
            for setting in self.registry.fields():
                hint = partial(setting_hint, platform, setting.name)
                lines.append(setting.describe(setting.read(asker.person), asker, hint))
            return "\n".join(lines)
        change = await self.registry.change(asker, typed)
        return "\n".join(change.errors or change.saved)


def _leading_names(text: str, pattern: re.Pattern[str], registry: SettingsRegistry) -> dict[str, str]:
    found: dict[str, str] = {}
    rest = text
    while True:
        match = pattern.match(rest)
        setting = registry.find(match.group(1)) if match else None
        if match is None or setting is None or not match.group(2).strip():
            return found
        value = match.group(2).strip()
        parts = value.split(None, 1)
        following = pattern.match(parts[1]) if len(parts) == 2 else None
        if following is not None and following.group(2).strip():
            found.setdefault(setting.name, parts[0])
            rest = parts[1]
            continue
        found.setdefault(setting.name, value)
        return found
