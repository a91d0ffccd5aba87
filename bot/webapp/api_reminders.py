"""The API's side of the Reminders page: list the person's reminders; cancel, pause, resume, snooze or edit one.

The same operations as the page and ``/reminders`` (bot/webapp/reminders.py, core/reminders/actions.py),
under ``/api/v1`` with the same authentication (bot/webapp/api.py). Another person's reminder answers 404,
as one that does not exist; a change its state does not allow (pausing a paused one) answers 409.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from bot.webapp.deps import RowId, WebApp, api_person, webapp
from bot.webapp.reminders import NO_SUCH, Refusal, actions_of, apply, reminder_view
from core.identity.web_sessions import WebUser
from core.reminders.actions import ReminderActions

router = APIRouter(prefix="/api/v1", tags=["v1"])


def _actions(web: WebApp) -> ReminderActions:
    try:
        return actions_of(web)
    except Refusal as refused:
        raise HTTPException(refused.status, refused.text) from None


async def _apply(web: WebApp, person: WebUser, reminder_id: int, action: str, choice: str = "") -> dict[str, Any]:
    actions = _actions(web)
    try:
        made = await apply(actions, person.id, reminder_id, action, choice)
    except Refusal as refused:
        raise HTTPException(refused.status, refused.text) from None
    return reminder_view(made, actions.clock())


@router.get("/reminders", summary="Your open reminders (active and paused): next time in their zone, recurrence, "
            "where they will be sent")  # fmt: skip
async def reminders(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> list[dict[str, Any]]:
    actions = _actions(web)
    now = actions.clock()
    return [reminder_view(r, now) for r in await actions.mine(person.id)]


@router.get("/reminders/{reminder_id}", summary="One of your reminders")
async def reminder(
    reminder_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    actions = _actions(web)
    found = await actions.get(person.id, reminder_id)
    if found is None:
        raise HTTPException(404, NO_SUCH)
    return reminder_view(found, actions.clock())


@router.post("/reminders/{reminder_id}/cancel", summary="Cancel one of your reminders (active or paused)")
async def cancel(
    reminder_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    return await _apply(web, person, reminder_id, "cancel")


@router.post("/reminders/{reminder_id}/pause", summary="Pause an active reminder: nothing is sent until resumed")
async def pause(
    reminder_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    return await _apply(web, person, reminder_id, "pause")


@router.post("/reminders/{reminder_id}/resume", summary="Resume a paused reminder from its next time after now")
async def resume(
    reminder_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    return await _apply(web, person, reminder_id, "resume")


class Edit(BaseModel):
    text: str = Field("", max_length=2000, description="The new text (empty: unchanged)")
    at: str = Field("", max_length=40, description="The new local date-time, e.g. 2026-12-12T09:00 (empty: unchanged)")
    recurrence: str = Field("", max_length=200, description="A new RRULE, or 'none' for once (empty: unchanged)")
    timezone: str = Field("", max_length=64, description="Another IANA zone (empty: unchanged)")


@router.patch(
    "/reminders/{reminder_id}",
    summary="Change one of your reminders: its text, time, repetition or zone (what is left empty stays)",
)
async def edit(
    reminder_id: RowId, body: Edit, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    actions = _actions(web)
    try:
        made = await apply(actions, person.id, reminder_id, "edit", changes=body.model_dump())
    except Refusal as refused:
        raise HTTPException(refused.status, refused.text) from None
    return reminder_view(made, actions.clock())


class Snooze(BaseModel):
    for_: str = Field("20m", alias="for", max_length=40, description="'20m', '1h', 'morning' or a span ('2 hours')")


@router.post(
    "/reminders/{reminder_id}/snooze",
    summary="Bring a reminder back later (a recurring one gets a one-off copy, which is returned)",
)
async def snooze(
    reminder_id: RowId, body: Snooze | None = None, web: WebApp = Depends(webapp),
    person: WebUser = Depends(api_person),
) -> dict[str, Any]:  # fmt: skip
    return await _apply(web, person, reminder_id, "snooze", body.for_ if body is not None else "")
