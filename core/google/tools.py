"""Calendar tools for the model: list, find free time, create, move and cancel (only events it created).

Times go in and come out in the user's time zone; every event in a result
carries its link.  The tools are offered only to users whose Google is
connected (see :class:`core.google.availability.GoogleAvailability`).  When
Google refuses the stored connection, the tool returns an error for the model
and the user gets a DM with a link to connect again.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from core.db.repositories import UserRecord
from core.events import EventBus, GoogleBroken
from core.google.api import GoogleApiError
from core.google.availability import GoogleAvailability
from core.google.calendar import CalendarClient, CalendarEvent
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded, GoogleUnavailable
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

log = logging.getLogger(__name__)

CREATED_BY = "captainslog"  # the extendedProperties.private mark of events the assistant created
_TIME = "Local date and time in the user's time zone, ISO 8601, e.g. '2026-03-14T15:30'."
_DAY = "A date 'YYYY-MM-DD' or a local date and time (ISO 8601) in the user's time zone."


def parse_range(arguments: dict[str, Any], context: ToolContext) -> tuple[datetime, datetime]:
    """The ``start``..``end`` period a tool looks at; a bare end date means the end of that day."""
    start = parse_time(arguments.get("start"), context, "start")
    end = parse_time(arguments.get("end"), context, "end", end_of_day=True)
    if end <= start:
        raise ToolInputError("end must be after start.")
    return start, end


def parse_time(value: Any, context: ToolContext, name: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time from the model, read in the user's zone when it has no offset."""
    text = str(value or "").strip()
    if not text:
        raise ToolInputError(f"{name} is missing ({_TIME})")
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time(), context.timezone)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ToolInputError(f"{name} {text!r} is not an ISO date or time such as 2026-03-14T15:30.") from None
    return moment.replace(tzinfo=context.timezone) if moment.tzinfo is None else moment.astimezone(context.timezone)


def describe(event: CalendarEvent) -> str:
    """One line per event: when, what, id and link."""
    if event.all_day:
        when = f"{event.start:%a %Y-%m-%d} (all day)"
    else:
        end = f"{event.end:%H:%M}" if event.end.date() == event.start.date() else f"{event.end:%a %Y-%m-%d %H:%M}"
        when = f"{event.start:%a %Y-%m-%d %H:%M}–{end}"
    extra = f" with {', '.join(event.attendees)}" if event.attendees else ""
    return f"- {when} {event.title}{extra} [id {event.id}] {event.html_link}".rstrip()


class CalendarTool(ToolBase):
    """What the Calendar tools share: the client, the availability cache and the bus that hears of a refused
    connection (:class:`GoogleBroken`: the identity feature asks the person to connect again)."""

    private = True  # the speaker's Calendar: not offered in places other people read

    def __init__(
        self, calendar: CalendarClient, availability: GoogleAvailability, events: EventBus | None = None
    ) -> None:
        self.calendar = calendar
        self.availability = availability
        self.events = events

    def available_for(self, user: UserRecord) -> bool:
        return self.availability.connected(user.id)

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        try:
            return await self.act(arguments, context)
        except GoogleReconnectNeeded:
            self.availability.forget(context.user_id)
            if self.events is not None:
                await self.events.publish(GoogleBroken(context.user_id))
            return ToolResult(
                "Error: Google refused the user's stored connection (revoked or expired). Nothing was done. "
                "The user has been sent a link in a DM to connect Google again; tell them so.",
                is_error=True,
            )
        except GoogleNotConnected:
            self.availability.forget(context.user_id)
            return ToolResult("Error: the user's Google is not connected; they can run /connect google.", is_error=True)
        except (GoogleUnavailable, GoogleApiError) as exc:
            log.warning("%s failed for user %s: %s", self.name, context.user_id, exc)
            return ToolResult(f"Error: {exc}. Nothing was changed.", is_error=True)

    async def act(self, arguments: dict[str, Any], context: ToolContext) -> str | ToolResult:
        raise NotImplementedError

    async def own_event(self, arguments: dict[str, Any], context: ToolContext) -> CalendarEvent:
        """The event named by ``event_id``, refused unless the assistant created it."""
        event_id = str(arguments.get("event_id") or "").strip()
        if not event_id:
            raise ToolInputError("event_id is missing (take it from list_calendar_events or create_calendar_event).")
        try:
            event = await self.calendar.get_event(context.user_id, event_id, timezone=context.timezone.key)
        except GoogleApiError as exc:
            if exc.status in (404, 410):
                raise ToolInputError(f"there is no event with id {event_id!r}.") from None
            raise
        if event.private.get(CREATED_BY) != "1":
            raise ToolInputError("that event was not created by the assistant; only the user can change it.")
        return event


class ListEvents(CalendarTool):
    name = "list_calendar_events"
    description = "List the events in the user's Google Calendar between two times (their time zone)."
    status = "Reading your calendar…"
    parameters = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "description": _DAY},
            "end": {"type": "string", "description": _DAY},
        },
        "required": ["start", "end"],
    }

    async def act(self, arguments: dict[str, Any], context: ToolContext) -> str:
        start, end = parse_range(arguments, context)
        events = await self.calendar.list_events(context.user_id, start=start, end=end, timezone=context.timezone.key)
        head = f"Events from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({context.timezone.key}):"
        return "\n".join([head, *(describe(e) for e in events)]) if events else head + " none."


class FindFreeTime(CalendarTool):
    name = "find_free_time"
    description = "Find free periods in the user's Google Calendar between two times, at least some minutes long."
    status = "Looking for free time…"
    parameters = {
        "type": "object",
        "properties": {
            "start": {"type": "string", "description": _DAY},
            "end": {"type": "string", "description": _DAY},
            "minutes": {"type": "integer", "description": "Shortest free period worth listing (default 30)."},
        },
        "required": ["start", "end"],
    }

    async def act(self, arguments: dict[str, Any], context: ToolContext) -> str:
        start, end = parse_range(arguments, context)
        try:
            shortest = timedelta(minutes=int(arguments.get("minutes") or 30))
        except (TypeError, ValueError):
            raise ToolInputError("minutes must be a whole number.") from None
        busy = await self.calendar.free_busy(context.user_id, start=start, end=end, timezone=context.timezone.key)
        free: list[tuple[datetime, datetime]] = []
        cursor = start
        for slot in sorted(busy, key=lambda s: s.start):
            if slot.start - cursor >= shortest:
                free.append((cursor, slot.start))
            cursor = max(cursor, slot.end)
        if end - cursor >= shortest:
            free.append((cursor, end))
        if not free:
            return f"No free period of {shortest.seconds // 60} minutes or more in that range."
        lines = [f"Free ({context.timezone.key}):"]
        lines += [f"- {a:%a %Y-%m-%d %H:%M}–{b:%H:%M}" if a.date() == b.date() else f"- {a:%c}–{b:%c}" for a, b in free]
        return "\n".join(lines)


class CreateEvent(CalendarTool):
    name = "create_calendar_event"
    description = (
        "Create an event in the user's Google Calendar. Only when the user asked for it; say what you created."
    )
    status = "Adding it to your calendar…"
    quota = "calendar_changes"
    private = False  # offered in shared places too, where the speaker confirms first
    changes_data = True
    parameters = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "start": {"type": "string", "description": _TIME},
            "end": {"type": "string", "description": _TIME},
            "description": {"type": "string"},
            "attendees": {"type": "array", "items": {"type": "string"}, "description": "Email addresses to invite."},
        },
        "required": ["title", "start", "end"],
    }

    async def act(self, arguments: dict[str, Any], context: ToolContext) -> str:
        title = str(arguments.get("title") or "").strip()
        if not title:
            raise ToolInputError("title is missing.")
        start = parse_time(arguments.get("start"), context, "start")
        end = parse_time(arguments.get("end"), context, "end")
        attendees = arguments.get("attendees") or []
        if not isinstance(attendees, list) or not all(isinstance(a, str) and "@" in a for a in attendees):
            raise ToolInputError("attendees must be a list of email addresses.")
        if end <= start:
            raise ToolInputError("the event must end after it starts.")
        event = await self.calendar.create_event(
            context.user_id,
            title=title,
            start=start,
            end=end,
            timezone=context.timezone.key,
            description=str(arguments.get("description") or ""),
            attendees=attendees,
            private={CREATED_BY: "1"},
        )
        return "Created:\n" + describe(event)


class MoveEvent(CalendarTool):
    name = "move_calendar_event"
    description = "Move (or rename) an event the assistant created earlier, by its id. Only when the user asked."
    status = "Moving the event…"
    quota = "calendar_changes"
    private = False  # offered in shared places too, where the speaker confirms first
    changes_data = True
    parameters = {
        "type": "object",
        "properties": {
            "event_id": {"type": "string"},
            "start": {"type": "string", "description": _TIME},
            "end": {"type": "string", "description": _TIME + " Default: keeps the duration."},
            "title": {"type": "string", "description": "A new title (optional)."},
        },
        "required": ["event_id", "start"],
    }

    async def act(self, arguments: dict[str, Any], context: ToolContext) -> str:
        event = await self.own_event(arguments, context)
        start = parse_time(arguments.get("start"), context, "start")
        end = (
            parse_time(arguments["end"], context, "end") if arguments.get("end") else start + (event.end - event.start)
        )
        if end <= start:
            raise ToolInputError("the event must end after it starts.")
        title = str(arguments.get("title") or "").strip() or None
        moved = await self.calendar.update_event(
            context.user_id, event.id, timezone=context.timezone.key, start=start, end=end, title=title
        )
        return "Moved:\n" + describe(moved)


class CancelEvent(CalendarTool):
    name = "cancel_calendar_event"
    description = "Cancel (delete) an event the assistant created earlier, by its id. Only when the user asked."
    status = "Cancelling the event…"
    quota = "calendar_changes"
    private = False  # offered in shared places too, where the speaker confirms first
    changes_data = True
    parameters = {"type": "object", "properties": {"event_id": {"type": "string"}}, "required": ["event_id"]}

    async def act(self, arguments: dict[str, Any], context: ToolContext) -> str:
        event = await self.own_event(arguments, context)
        await self.calendar.delete_event(context.user_id, event.id)
        return "Cancelled:\n" + describe(event)


def calendar_tools(
    calendar: CalendarClient, availability: GoogleAvailability, events: EventBus | None = None
) -> list[ToolBase]:
    """Every Calendar tool, sharing one client, availability cache and bus (a refused connection is published
    there as :class:`GoogleBroken`)."""
    return [
        cls(calendar, availability, events) for cls in (ListEvents, FindFreeTime, CreateEvent, MoveEvent, CancelEvent)
    ]
