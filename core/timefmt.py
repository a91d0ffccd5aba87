"""How times are written for the model and for people."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# The longest IANA name is 32 characters; anything much longer is not a zone
# (and a very long one made ZoneInfo fail with "File name too long").
MAX_ZONE_NAME = 64


@cache
def _zone_names() -> dict[str, str]:
    """Every zone this machine knows, by lower-case name (read once: it walks the tz database)."""
    return {name.lower(): name for name in available_timezones()}


def canonical_zone(name: str | None) -> str | None:
    """The IANA spelling of ``name`` in any letter case (``europe/paris`` -> ``Europe/Paris``), or None."""
    if not name or len(name) > MAX_ZONE_NAME:
        return None
    return _zone_names().get(name.strip().lower())


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The zone called ``name`` (any letter case), or ``default`` when it is unset or unknown."""
    for candidate in (name, default, "UTC"):
        key = canonical_zone(candidate)
        if key is None:
            continue
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return ZoneInfo("UTC")


def is_valid_zone(name: str | None) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows, in any letter case (``Europe/Paris``).

    Store :func:`canonical_zone` of it, not the name as typed.
    """
    key = canonical_zone(name)
    if key is None:
        return False
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def stamp(moment: datetime, tz: ZoneInfo) -> str:
    """A compact, unambiguous local time: ``Tue 2026-11-24 14:03 CET``."""
    local = moment.astimezone(tz)
    return local.strftime("%a %Y-%m-%d %H:%M ") + (local.tzname() or tz.key)
