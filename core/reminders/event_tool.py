"""The model's tool for reminders anchored to a calendar event: "check in after my exam", "ping me 10 minutes
before the dentist", "ping me 10 minutes before each meeting". The event is found by words of its title; the
time follows the event, or each such event in turn (core.reminders.anchors)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.reminders.anchors import CalendarAnchors, anchor_of, anchored_time, describe
from core.reminders.buttons import undo_button
from core.reminders.store import ReminderStore
from core.reminders.times import Schedule, TimeRefused, to_local
from core.reminders.words import confirmation
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

log = logging.getLogger(__name__)


@dataclass
class SetEventReminder(ToolBase):
    store: ReminderStore
    anchors: CalendarAnchors
    changed: Callable[[], None]
    name: str = "set_event_reminder"
    description: str = (
        "Set a reminder tied to an event of the person's Google Calendar, which follows the event when it moves "
        "and is cancelled with it: 'ping me 10 minutes before the dentist' (anchor start, offset -10), 'check in "
        "after my exam' (anchor end, offset 0). 'event' is words of the event's title; the next such event is used. "
        "With each=true it comes before or after every such event ('before each meeting': event may be empty for "
        "every event)."
    )
    parameters: dict[str, Any] = None  # type: ignore[assignment]
    status: str = "Looking at your calendar…"

    def __post_init__(self) -> None:
        self.parameters = {
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "What to say, e.g. 'how did the exam go?'."},
                "event": {"type": "string", "description": "Words of the event's title, e.g. 'exam'."},
                "anchor": {"type": "string", "enum": ["start", "end"], "description": "Its start or its end."},
                "offset_minutes": {"type": "integer", "description": "Minutes after (positive) or before (negative)."},
                "each": {"type": "boolean", "description": "For every such event, not only the next one."},
            },
            "required": ["text", "anchor"],
        }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        text, words = str(arguments.get("text") or "").strip(), str(arguments.get("event") or "").strip()
        anchor = "end" if arguments.get("anchor") == "end" else "start"
        offset = arguments.get("offset_minutes") or 0
        each = arguments.get("each") is True
        if not text or not (words or each) or not isinstance(offset, int) or abs(offset) > 7 * 24 * 60:
            raise ToolInputError("give the text, words of the event's title, and offset_minutes within a week.")
        try:
            events = await self.anchors.find(context.user_id, context.timezone.key, words)
        except Exception as exc:  # noqa: BLE001 - not connected, refused, away: the model tells the person
            log.info("calendar lookup for an event reminder failed: %s", exc)
            raise ToolInputError(f"I couldn't read the Google Calendar ({type(exc).__name__}); say so.") from exc
        upcoming = [e for e in events if anchored_time(e, anchor, offset) > context.now]
        if not upcoming:
            raise ToolInputError(f"no upcoming calendar event matches {words!r}; ask which event is meant.")
        event = upcoming[0]
        local = to_local(anchored_time(event, anchor, offset), context.timezone).replace(second=0, microsecond=0)
        calendar = anchor_of(event, anchor, offset, each=words if each else None)
        try:
            made = await self.store.create(
                user_id=context.user_id, text=text, schedule=Schedule(local, context.timezone),
                platform=context.place.platform if context.place else "terminal",
                conversation_id=context.conversation_id, calendar=calendar,
            )  # fmt: skip
        except TimeRefused as exc:
            raise ToolInputError(f"{exc} Tell the person in these words.") from exc
        self.changed()
        said = f"{confirmation(made, context.now)} ({describe(calendar)}; it follows the event if it moves)"
        return ToolResult(f"Reminder #{made.id} set: {said}. Confirm it to the person in these words.",
                          notice=f"⏰ {said}", buttons=(undo_button(made.id),))  # fmt: skip
