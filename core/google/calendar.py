"""Google Calendar for a user: list, free/busy, create, move and cancel events, in the user's time zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from googleapiclient.discovery import Resource

from core.google.api import GoogleApi, first_page

PRIMARY = "primary"


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """An event as the user sees it: times in their zone (``all_day`` events start at midnight)."""

    id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool
    html_link: str
    description: str = ""
    location: str = ""
    attendees: tuple[str, ...] = ()
    private: dict[str, str] = field(default_factory=dict)  # extendedProperties.private (the app's own marks)
    cancelled: bool = False  # status "cancelled": Google still answers a get for a deleted event


@dataclass(frozen=True, slots=True)
class BusySlot:
    start: datetime
    end: datetime


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    # Naive times the model produces mean the user's wall clock.
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _when(value: datetime, zone: ZoneInfo) -> dict[str, str]:
    return {"dateTime": _aware(value, zone).isoformat(), "timeZone": zone.key}


def _parse(part: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, bool]:
    if "dateTime" in part:
        return datetime.fromisoformat(part["dateTime"].replace("Z", "+00:00")).astimezone(zone), False
    return datetime.combine(date.fromisoformat(part["date"]), time(), zone), True


def _event(raw: dict[str, Any], zone: ZoneInfo) -> CalendarEvent:
    start, all_day = _parse(raw.get("start", {}), zone)
    end, _ = _parse(raw.get("end", {}), zone)
    return CalendarEvent(
        id=raw["id"],
        title=raw.get("summary", "(no title)"),
        start=start,
        end=end,
        all_day=all_day,
        html_link=raw.get("htmlLink", ""),
        description=raw.get("description", ""),
        location=raw.get("location", ""),
        attendees=tuple(a.get("email", "") for a in raw.get("attendees", []) if a.get("email")),
        private=dict((raw.get("extendedProperties") or {}).get("private") or {}),
        cancelled=raw.get("status") == "cancelled",
    )


class CalendarClient:
    """Calendar v3 on the user's primary calendar (``calendar.events`` scope)."""

    def __init__(self, api: GoogleApi, *, calendar_id: str = PRIMARY) -> None:
        self.api = api
        self.calendar_id = calendar_id

    async def list_events(
        self, user_id: int, *, start: datetime, end: datetime, timezone: str, limit: int = 50
    ) -> list[CalendarEvent]:
        """Events overlapping ``[start, end)``, in start order, times in ``timezone``."""
        zone = ZoneInfo(timezone)

        def call(service: Resource) -> dict[str, Any]:
            return (
                service.events()
                .list(
                    calendarId=self.calendar_id,
                    timeMin=_aware(start, zone).isoformat(),
                    timeMax=_aware(end, zone).isoformat(),
                    singleEvents=True,
                    orderBy="startTime",
                    timeZone=timezone,
                    maxResults=limit,
                )
                .execute()
            )

        result = await self.api.run(user_id, "calendar.v3", call)
        return [_event(raw, zone) for raw in first_page(result, "items")]

    async def free_busy(self, user_id: int, *, start: datetime, end: datetime, timezone: str) -> list[BusySlot]:
        """Busy intervals in ``[start, end)`` (the free time is what lies between them)."""
        zone = ZoneInfo(timezone)
        body = {
            "timeMin": _aware(start, zone).isoformat(),
            "timeMax": _aware(end, zone).isoformat(),
            "timeZone": timezone,
            "items": [{"id": self.calendar_id}],
        }
        result = await self.api.run(user_id, "calendar.v3", lambda s: s.freebusy().query(body=body).execute())
        busy = result.get("calendars", {}).get(self.calendar_id, {}).get("busy", [])
        return [
            BusySlot(_parse({"dateTime": b["start"]}, zone)[0], _parse({"dateTime": b["end"]}, zone)[0]) for b in busy
        ]

    async def create_event(
        self,
        user_id: int,
        *,
        title: str,
        start: datetime,
        end: datetime,
        timezone: str,
        description: str = "",
        attendees: Sequence[str] = (),
        private: Mapping[str, str] | None = None,
    ) -> CalendarEvent:
        """Create an event; naive times are read in ``timezone``. Raises ValueError when it ends before it starts.

        ``private`` goes to the event's ``extendedProperties.private`` (seen only by this app)."""
        zone = ZoneInfo(timezone)
        if _aware(end, zone) <= _aware(start, zone):
            raise ValueError("an event must end after it starts")
        body: dict[str, Any] = {"summary": title, "start": _when(start, zone), "end": _when(end, zone)}
        if description:
            body["description"] = description
        if attendees:
            body["attendees"] = [{"email": a} for a in attendees]
        if private:
            body["extendedProperties"] = {"private": dict(private)}
        raw = await self.api.run(
            user_id, "calendar.v3", lambda s: s.events().insert(calendarId=self.calendar_id, body=body).execute()
        )
        return _event(raw, zone)

    async def get_event(self, user_id: int, event_id: str, *, timezone: str) -> CalendarEvent:
        """One event by id (GoogleApiError with status 404 when there is none)."""
        raw = await self.api.run(
            user_id, "calendar.v3", lambda s: s.events().get(calendarId=self.calendar_id, eventId=event_id).execute()
        )
        return _event(raw, ZoneInfo(timezone))

    async def update_event(
        self,
        user_id: int,
        event_id: str,
        *,
        timezone: str,
        start: datetime | None = None,
        end: datetime | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> CalendarEvent:
        """Move or change an event (only the given fields change)."""
        zone = ZoneInfo(timezone)
        body: dict[str, Any] = {}
        if start is not None:
            body["start"] = _when(start, zone)
        if end is not None:
            body["end"] = _when(end, zone)
        if title is not None:
            body["summary"] = title
        if description is not None:
            body["description"] = description
        raw = await self.api.run(
            user_id,
            "calendar.v3",
            lambda s: s.events().patch(calendarId=self.calendar_id, eventId=event_id, body=body).execute(),
        )
        return _event(raw, zone)

    async def delete_event(self, user_id: int, event_id: str) -> None:
        """Cancel an event."""
        await self.api.run(
            user_id, "calendar.v3", lambda s: s.events().delete(calendarId=self.calendar_id, eventId=event_id).execute()
        )
