"""A user's daily-log settings (in ``users.settings``) and when their day closes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAILY_TIME = "daily_time"  # "HH:MM" or "off"
DAILY_PLATFORM = "daily_platform"  # "discord" | "slack"
DRIVE_FOLDER = "drive_folder_id"  # set by /settings drive-folder (core/identity/commands.py)
DRIVE_FOLDER_NAME = "drive_folder_name"  # the folder's name when chosen, only to show it
OFF = "off"
PLATFORMS = ("discord", "slack")
_TIME = re.compile(r"^\s*([01]?\d|2[0-3])[:h.]?([0-5]\d)\s*$")


def parse_daily_time(value: str) -> time | None:
    """`22:30` (also `2230`, `22h30`) as a time; None for "off". Raises ValueError for anything else."""
    text = value.strip().lower()
    if text in (OFF, "none", "never"):
        return None
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a time like 22:30 (or off)")
    return time(int(match.group(1)), int(match.group(2)))


def closing_time(settings: Mapping[str, Any], default: str) -> time | None:
    """The user's end of day (their setting, else `default`); None when the daily log is off.

    A stored value that no longer parses falls back to the default rather than silencing the log.
    """
    for candidate in (settings.get(DAILY_TIME), default):
        if isinstance(candidate, str) and candidate.strip():
            try:
                return parse_daily_time(candidate)
            except ValueError:
                continue
    return None


def closes_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant `day` closes for a user whose end of day is `at` local time.

    Midnight means the very end of the day (the next local midnight), not its start.
    """
    if at == time():
        return datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    return datetime.combine(day, at, tz).astimezone(UTC)


def preferred_platform(settings: Mapping[str, Any]) -> str | None:
    """The platform chosen with /settings daily-platform, if any."""
    value = settings.get(DAILY_PLATFORM)
    return value if value in PLATFORMS else None
