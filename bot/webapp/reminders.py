"""The web app's Reminders page (``/reminders``): each reminder with its next time in its zone, recurrence,
where it will be sent and state; Cancel, Pause or Resume, Snooze and Change (its text and time), as small POST
forms with the CSRF token.

The changes are the ones ``/reminders`` makes (core/reminders/actions.py); :func:`apply` is shared with the
API (bot/webapp/api_reminders.py). A reminder is looked up among the person's own: another's answers 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.settings_page import read_form
from bot.webapp.deps import HEADERS, RowId, WebApp, checked_form, page_person, render, webapp
from core.identity.web_sessions import WebUser
from core.reminders.actions import CHANGES, ReminderActions
from core.reminders.store import ReminderRecord
from core.reminders.times import TimeRefused, to_utc, wall
from core.reminders.words import destination, recurrence, when

router = APIRouter(include_in_schema=False)
NOT_SET_UP = "Reminders are not set up on this assistant."
NO_SUCH = "No such reminder."
ACTIONS = (*CHANGES, "snooze", "edit")
# Snooze choices offered on the page (the words /reminders snooze reads).
SNOOZES = {"20m": "20 minutes", "1h": "1 hour", "morning": "tomorrow morning"}
DONE = {"cancel": "cancelled", "pause": "paused", "resume": "resumed", "snooze": "snoozed", "edit": "changed"}
STALE = (
    "The form could not be checked (it was old or not sent from this page), so nothing changed. Reload and try again."
)


class Refusal(Exception):
    """Nothing changed: ``status`` (404 not the person's or not set up, 409 its state or the time) and why."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def actions_of(web: WebApp) -> ReminderActions:
    """The reminders' operations; Refusal (404) when this assistant has no reminders."""
    if web.reminders is None:
        raise Refusal(404, NOT_SET_UP)
    return web.reminders


def reminder_view(r: ReminderRecord, now: datetime) -> dict[str, Any]:
    """A reminder as the page and the API show it (the next time in words, in its zone, and as ISO 8601)."""
    at = to_utc(wall(r.next_local), r.zone).astimezone(r.zone) if r.next_local and r.state == "active" else None
    return {
        "id": r.id,
        "text": r.text,
        "next": when(r, now) if at is not None else None,
        "next_at": at.isoformat() if at is not None else None,
        "timezone": r.timezone,
        "recurrence": recurrence(r.rrule),
        "rrule": r.rrule,
        "sent_to": destination(r),
        "platform": r.platform,
        "state": r.state,
        "local": (r.next_local or "")[:16],  # the edit form's datetime-local value, in its zone
    }


async def apply(
    actions: ReminderActions,
    user_id: int,
    reminder_id: int,
    action: str,
    choice: str = "",
    changes: Mapping[str, str] | None = None,
) -> ReminderRecord:
    """Cancel, pause, resume, snooze (after `choice`) or edit (`changes`: text, at, recurrence, timezone) one of
    the person's reminders; Refusal when not."""
    if action not in ACTIONS or await actions.get(user_id, reminder_id) is None:
        raise Refusal(404, NO_SUCH)
    if action == "edit":
        return await apply_edit(actions, user_id, reminder_id, changes or {})
    if action == "snooze":
        try:
            made = await actions.snooze(user_id, reminder_id, choice or "20m")
        except TimeRefused as exc:
            raise Refusal(409, f"It could not be snoozed: {exc}") from None
    else:
        made = await actions.change(user_id, reminder_id, next(c for c in CHANGES if c == action))
    if made is None:
        raise Refusal(409, f"This reminder cannot be {DONE[action]} now (see its state).")
    return made


async def apply_edit(
    actions: ReminderActions, user_id: int, reminder_id: int, changes: Mapping[str, str]
) -> ReminderRecord:
    """Change the text, time, repetition or zone of one of the person's reminders; Refusal when not."""
    fields = {name: str(changes.get(name) or "").strip() for name in ("text", "at", "recurrence", "timezone")}
    current = await actions.get(user_id, reminder_id)
    if current is not None and fields["at"] == (current.next_local or "")[:16]:
        fields["at"] = ""  # the form sends the time it showed: unchanged, so the time stays as it is
    if current is not None and fields["text"] == current.text:
        fields["text"] = ""
    if not any(fields.values()):
        raise Refusal(409, "Nothing to change: give a new text or time.")
    try:
        made = await actions.edit(user_id, reminder_id, **fields)
    except TimeRefused as exc:
        raise Refusal(409, f"It could not be changed: {exc}") from None
    if made is None:
        raise Refusal(409, f"This reminder cannot be {DONE['edit']} now (see its state).")
    return made


@router.get("/reminders")
async def page(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    try:
        actions = actions_of(web)
    except Refusal as refused:
        raise HTTPException(refused.status, refused.text) from None
    now = actions.clock()
    done = request.query_params.get("done", "")
    return render(
        request, "reminders.html", title="Reminders", page="reminders", person=person, snoozes=SNOOZES,
        reminders=[reminder_view(r, now) for r in await actions.mine(person.id)],
        notice=f"The reminder was {DONE[done]}." if done in DONE else "",
    )  # fmt: skip


@router.post("/reminders/{reminder_id}/{action}")
async def change(
    reminder_id: RowId, action: str, request: Request, web: WebApp = Depends(webapp),
    person: WebUser = Depends(page_person),
) -> Response:  # fmt: skip
    """Cancel, pause, resume, snooze or edit one of the person's reminders, then back to the list."""
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return render(request, "message.html", 403, title="Nothing changed", text=STALE, person=person)
    try:
        await apply(actions_of(web), person.id, reminder_id, action, form.get("for", ""), changes=form)
    except Refusal as refused:
        if refused.status == 404:
            raise HTTPException(404, refused.text) from None
        return render(request, "message.html", refused.status, title="Nothing changed", text=refused.text,
                      person=person)  # fmt: skip
    return RedirectResponse(f"/reminders?done={action}", status_code=303, headers=HEADERS)
