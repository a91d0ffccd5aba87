"""How times are written for the model and for people."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The zone called ``name``, or ``default`` when it is unset or unknown."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def is_valid_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows (``Europe/Paris``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def stamp(moment: datetime, tz: ZoneInfo) -> str:
    """A compact, unambiguous local time: ``Tue 2026-11-24 14:03 CET``."""
    local = moment.astimezone(tz)
    return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or tz.key)
