"""The model's reminder tools: set (a structured time), list, cancel, snooze and edit.

The model never does date arithmetic: it gives a local date-time ("at") or a span
from now ("in": "20 minutes"), which this tool turns into a time with the injected
clock, and an RRULE only when the person asked for a repetition ("every 30 minutes"
is a recurrence, "in 30 minutes" is not). The person sees the resolved time and zone
in plain words under the answer, whatever the model writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from core.reminders.actions import new_schedule
from core.reminders.buttons import undo_button
from core.reminders.store import ReminderRecord, ReminderStore
from core.reminders.times import Schedule, TimeRefused, parse_local, parse_offset, to_local, to_utc
from core.reminders.words import confirmation, line
from core.timefmt import is_valid_zone
from core.tools.registry import ToolBase, ToolContext, ToolInputError, ToolResult

log = logging.getLogger(__name__)

_ID = {"type": "integer", "description": "The reminder's number (#3 -> 3), from list_reminders."}
# How a tool is told which reminder: by its number, or by words of its text (see _ReminderTool._pick).
_WHICH = {"reminder_id": _ID, "matching": {"type": "string", "description": "Words of its text."}}


def _string(arguments: dict[str, Any], name: str) -> str:
    value = arguments.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass
class _ReminderTool(ToolBase):
    store: ReminderStore
    changed: Callable[[], None]

    async def _pick(self, arguments: dict[str, Any], context: ToolContext) -> ReminderRecord:
        """The reminder meant by ``reminder_id`` or by words of its text; asks back when several match."""
        number = arguments.get("reminder_id")
        if isinstance(number, int | str) and str(number).lstrip("#").isdigit():
            found = await self.store.get(int(str(number).lstrip("#")), user_id=context.user_id)
            if found is None:
                raise ToolInputError(f"the person has no reminder #{number}.")
            return found
        words = _string(arguments, "matching").lower()
        if not words:
            raise ToolInputError("give reminder_id or words of the reminder's text in 'matching'.")
        mine = await self.store.of_user(context.user_id)
        hits = [r for r in mine if all(w in r.text.lower() for w in words.split())]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise ToolInputError(f"no open reminder matches {words!r}; call list_reminders.")
        listed = "\n".join(line(r, context.now) for r in hits)
        raise ToolInputError(f"several reminders match; ask the person which one:\n{listed}")


@dataclass
class SetReminder(_ReminderTool):
    name: str = "set_reminder"
    description: str = (
        "Set a reminder the assistant will send the person by itself. Give the text and exactly one of: "
        "'at' (local date-time, e.g. 2026-12-11T10:00, in the person's zone or 'timezone') or 'in' (a span from "
        "now, e.g. '20 minutes', '2 hours'). Add 'recurrence' (an RRULE such as FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR) "
        "only when the person asked for a repetition. If the time is ambiguous, ask instead of guessing."
    )
    parameters: dict[str, Any] = None  # type: ignore[assignment]
    status: str = "Setting a reminder…"

    def __post_init__(self) -> None:
        self.parameters = {
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "What to remind of, e.g. 'call Ana'."},
                "at": {"type": "string", "description": "Local date-time without offset, e.g. 2026-12-11T10:00."},
                "in": {"type": "string", "description": "A span from now, e.g. '20 minutes', '1h30m'."},
                "recurrence": {"type": "string", "description": "RRULE, e.g. FREQ=DAILY or FREQ=WEEKLY;BYDAY=MO."},
                "timezone": {"type": "string", "description": "IANA zone, only when the person named another zone."},
            },
            "required": ["text"],
        }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        text, at, span = _string(arguments, "text"), _string(arguments, "at"), _string(arguments, "in")
        rule, zone_name = _string(arguments, "recurrence") or None, _string(arguments, "timezone")
        if not text:
            raise ToolInputError("give the reminder's text.")
        if bool(at) == bool(span):
            raise ToolInputError("give exactly one of 'at' (a local date-time) or 'in' (a span such as '20 minutes').")
        if zone_name and not is_valid_zone(zone_name):
            raise ToolInputError(f"{zone_name!r} is not an IANA time zone such as 'Europe/Lisbon'.")
        zone = ZoneInfo(zone_name) if zone_name else context.timezone
        try:
            start = parse_local(at) if at else to_local(context.now + parse_offset(span), zone).replace(microsecond=0)
            made = await self.store.create(
                user_id=context.user_id, text=text, schedule=Schedule(start, zone, rule),
                platform=context.place.platform if context.place else "terminal",
                conversation_id=context.conversation_id, zone_fixed=bool(zone_name) and zone != context.timezone,
            )  # fmt: skip
        except TimeRefused as exc:
            raise ToolInputError(f"{exc} Tell the person in these words.") from exc
        self.changed()
        said = confirmation(made, context.now)
        return ToolResult(f"Reminder #{made.id} set: {said}. Confirm it to the person in these words; "
                          f"if they say undo, cancel #{made.id}.", notice=f"⏰ {said}",
                          buttons=(undo_button(made.id),))  # fmt: skip


@dataclass
class ListReminders(_ReminderTool):
    name: str = "list_reminders"
    description: str = "The person's open reminders: number, next time, recurrence, where it goes, text."
    parameters: dict[str, Any] = None  # type: ignore[assignment]
    status: str = "Looking at your reminders…"
    private: bool = True

    def __post_init__(self) -> None:
        self.parameters = {"type": "object", "properties": {}, "required": []}

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        mine = await self.store.of_user(context.user_id)
        return "\n".join(line(r, context.now) for r in mine) if mine else "The person has no open reminders."


@dataclass
class CancelReminder(_ReminderTool):
    name: str = "cancel_reminder"
    description: str = "Cancel one of the person's reminders, by number or by words of its text ('the Ana reminder')."
    parameters: dict[str, Any] = None  # type: ignore[assignment]
    status: str = "Cancelling a reminder…"
    private: bool = True

    def __post_init__(self) -> None:
        self.parameters = {
            "type": "object",
            "properties": {**_WHICH},
            "required": [],
        }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        chosen = await self._pick(arguments, context)
        await self.store.cancel(context.user_id, chosen.id)
        self.changed()
        return ToolResult(f"Cancelled reminder #{chosen.id}: {chosen.text}.", notice=f"Cancelled: {chosen.text}")


@dataclass
class SnoozeReminder(_ReminderTool):
    name: str = "snooze_reminder"
    description: str = (
        "Bring a reminder back later ('snooze 2 hours'): 'for' a span from now, or 'until' a local date-time. "
        "Without reminder_id or matching, the reminder sent most recently is snoozed."
    )
    parameters: dict[str, Any] = None  # type: ignore[assignment]
    status: str = "Snoozing…"
    private: bool = True

    def __post_init__(self) -> None:
        self.parameters = {
            "type": "object",
            "properties": {
                **_WHICH,
                "for": {"type": "string", "description": "A span from now, e.g. '2 hours'."},
                "until": {"type": "string", "description": "A local date-time, e.g. 2026-12-12T09:00."},
            },
            "required": [],
        }  # fmt: skip

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        if arguments.get("reminder_id") is None and not _string(arguments, "matching"):
            last = await self.store.last_sent(context.user_id)
            if last is None:
                raise ToolInputError("no reminder was sent to the person yet; ask which one.")
            chosen = last
        else:
            chosen = await self._pick(arguments, context)
        span, until = _string(arguments, "for"), _string(arguments, "until")
        if bool(span) == bool(until):
            raise ToolInputError("give exactly one of 'for' (a span) or 'until' (a local date-time).")
        try:
            moment = context.now + parse_offset(span) if span else to_utc(parse_local(until), chosen.zone)
            made = await self.store.snooze(context.user_id, chosen.id, moment)
        except TimeRefused as exc:
            raise ToolInputError(f"{exc} Tell the person in these words.") from exc
        if made is None:
            raise ToolInputError("that reminder cannot be snoozed any more.")
        self.changed()
        said = confirmation(made, context.now)
        return ToolResult(f"Snoozed: {said}.", notice=f"⏰ Snoozed to {said}")


@dataclass
class EditReminder(_ReminderTool):
    name: str = "edit_reminder"
    description: str = (
        "Change an open reminder: its text, its time ('at', a local date-time), its repetition ('recurrence', "
        "an RRULE, or 'none' for once) or its zone. Give only what changes; the rest stays. Pick it by "
        "reminder_id or by words of its text in 'matching'. To bring one back later once, use snooze_reminder."
    )
    parameters: dict[str, Any] = None  # type: ignore[assignment]
    status: str = "Changing a reminder…"
    private: bool = True

    def __post_init__(self) -> None:
        self.parameters = {
            "type": "object",
            "properties": {
                **_WHICH,
                "text": {"type": "string", "description": "The new text."},
                "at": {"type": "string", "description": "The new local date-time, e.g. 2026-12-12T09:00."},
                "recurrence": {"type": "string", "description": "A new RRULE, or 'none' to make it happen once."},
                "timezone": {"type": "string", "description": "IANA zone, only when the person named another zone."},
            },
            "required": [],
        }  # fmt: skip

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        chosen = await self._pick(arguments, context)
        text, at = _string(arguments, "text"), _string(arguments, "at")
        rule, zone_name = _string(arguments, "recurrence"), _string(arguments, "timezone")
        if not (text or at or rule or zone_name):
            raise ToolInputError("say what changes: text, at, recurrence or timezone.")
        try:
            schedule = new_schedule(chosen, at=at, recurrence=rule, timezone=zone_name)
            fixed = ZoneInfo(zone_name) != context.timezone if zone_name else None
            made = await self.store.edit(context.user_id, chosen.id, text=text or None, schedule=schedule,
                                         zone_fixed=fixed)  # fmt: skip
        except TimeRefused as exc:
            raise ToolInputError(f"{exc} Tell the person in these words.") from exc
        if made is None:
            raise ToolInputError(f"reminder #{chosen.id} is no longer open.")
        self.changed()
        said = confirmation(made, context.now)
        return ToolResult(f"Reminder #{made.id} changed: {said}.", notice=f"⏰ Changed: {said}")


def reminder_tools(store: ReminderStore, changed: Callable[[], None]) -> list[ToolBase]:
    """The reminder tools; `changed` wakes the scheduler after a change."""
    return [SetReminder(store, changed), ListReminders(store, changed), CancelReminder(store, changed),
            SnoozeReminder(store, changed), EditReminder(store, changed)]  # fmt: skip
