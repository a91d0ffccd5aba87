"""Wall times in a zone, recurrences and the limits on them: pure functions, no database, no clock.

A reminder's time is a local wall time (naive) in an IANA zone. It becomes UTC only
to be scheduled, and again whenever the zone changes: 10:00 stays 10:00 across a
daylight-saving change and after a move to another zone. A wall time that does not
exist (02:30 in the spring gap) is moved forward by the gap (03:30); one that exists
twice (02:30 in the autumn overlap) is taken at its first instant, so it fires once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MIN_INTERVAL = timedelta(minutes=10)
MAX_AHEAD = timedelta(days=5 * 366)
# How many occurrences are looked at to check a recurrence's shortest gap.
_GAP_SAMPLE = 200


class TimeRefused(ValueError):
    """A time or recurrence that cannot be used; the message is one line for the person."""


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant of wall time `local` (naive) in `zone`: gap times move forward, overlap times take the first."""
    if local.tzinfo is not None:
        raise ValueError("to_utc takes a naive wall time")
    # fold=0: in an overlap the first instant; in a gap the offset from before the change, which
    # lands the wall time as far after the gap as it was into it.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall time (naive) of aware `moment` in `zone`."""
    return moment.astimezone(zone).replace(tzinfo=None)


def wall(text: str) -> datetime:
    """A stored wall time ("2026-12-11T10:00:00") back as a naive datetime."""
    return datetime.fromisoformat(text)


def wall_text(local: datetime) -> str:
    """A naive wall time as stored (seconds, no offset)."""
    return local.replace(microsecond=0).isoformat(timespec="seconds")


def parse_local(text: str) -> datetime:
    """The model's local ISO date-time ("2026-12-11T10:00"); an offset in it is refused (the zone is separate)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise TimeRefused(f"{text!r} is not a date and time such as 2026-12-11T10:00.") from exc
    if value.tzinfo is not None:
        raise TimeRefused("give the local time without an offset (e.g. 2026-12-11T10:00) and the zone separately.")
    return value.replace(second=0, microsecond=0)


_UNITS = {"m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600,
          "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800,
          "weeks": 604800}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_offset(text: str) -> timedelta:
    """A span such as "20 minutes", "in 2 hours", "1h30m", "1 day": an offset from now, never a repetition."""
    cleaned = text.strip().lower().removeprefix("in ").replace(" and ", " ").replace(",", " ")
    total, end = 0.0, 0
    for match in _PART.finditer(cleaned):
        if cleaned[end : match.start()].strip():
            break
        unit = _UNITS.get(match.group(2))
        if unit is None:
            raise TimeRefused(f"I can't read {text!r} as a span of time; say e.g. '20 minutes' or '2 hours'.")
        total += float(match.group(1)) * unit
        end = match.end()
    if end == 0 or cleaned[end:].strip():
        raise TimeRefused(f"I can't read {text!r} as a span of time; say e.g. '20 minutes' or '2 hours'.")
    if total <= 0:
        raise TimeRefused("the span must be longer than zero.")
    return timedelta(seconds=round(total))


@dataclass(frozen=True)
class Schedule:
    """A wall-time start in a zone with an optional RRULE: the occurrences of one reminder."""

    start: datetime  # naive wall time
    zone: ZoneInfo
    rule: str | None = None

    def _rule(self) -> rrule:
        assert self.rule is not None
        text = self.rule.strip().removeprefix("RRULE:")
        parsed = rrulestr(text, dtstart=self.start)
        if not isinstance(parsed, rrule):
            raise TimeRefused("give one recurrence rule (an RRULE such as FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR).")
        return parsed

    def first(self) -> datetime | None:
        """The first wall time (naive) of the schedule."""
        if self.rule is None:
            return self.start
        return self._rule().after(self.start, inc=True)

    def after(self, local: datetime) -> datetime | None:
        """The first wall time strictly after wall time `local`; None when the schedule has ended."""
        if self.rule is None:
            return self.start if self.start > local else None
        return self._rule().after(local, inc=False)

    def due(self, now: datetime, since: datetime) -> tuple[datetime | None, int]:
        """The last wall time at or before `now` (aware) from wall time `since` on, and how many earlier ones it hides."""
        local_now = to_local(now, self.zone)
        if self.rule is None:
            return (self.start, 0) if self.start >= since and to_utc(self.start, self.zone) <= now else (None, 0)
        rule = self._rule()
        passed = [t for t in rule.between(since, local_now, inc=True) if to_utc(t, self.zone) <= now]
        return (passed[-1], len(passed) - 1) if passed else (None, 0)

    def check(self, now: datetime) -> datetime:
        """Refuse what the limits forbid; returns the first wall time, which is in the future."""
        try:
            first = self.first()
        except (ValueError, TypeError) as exc:
            if isinstance(exc, TimeRefused):
                raise
            raise TimeRefused(f"I can't read the recurrence {self.rule!r}: {exc}.") from exc
        if first is None:
            raise TimeRefused("that recurrence never happens.")
        if to_utc(first, self.zone) <= now:
            when = first.strftime("%A %d %B %Y, %H:%M")
            raise TimeRefused(f"{when} has already passed in {self.zone.key}; give a time in the future.")
        if to_utc(first, self.zone) - now > MAX_AHEAD:
            raise TimeRefused("that is more than 5 years ahead; I keep reminders for at most 5 years.")
        if self.rule is not None:
            times = []
            for moment in self._rule():
                times.append(to_utc(moment, self.zone))
                if len(times) >= _GAP_SAMPLE:
                    break
            if any(b - a < MIN_INTERVAL for a, b in zip(times, times[1:], strict=False)):
                raise TimeRefused("a recurring reminder may come at most every 10 minutes.")
        return first


def spoken(local: datetime, zone: ZoneInfo) -> str:
    """ "Friday 11 December, 10:00 Lisbon time" (the year when it is not the current one is added by callers)."""
    place = zone.key.split("/")[-1].replace("_", " ")
    return f"{local.strftime('%A')} {local.day} {local.strftime('%B')}, {local.strftime('%H:%M')} {place} time"
