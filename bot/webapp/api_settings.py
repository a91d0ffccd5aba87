"""The API's side of the settings page (``/settings``): the settings registry's fields, read and changed.

The same operations as the page (core/identity/account.py: the form's rows, and a change checked whole
through the registry), under ``/api/v1`` with the API's authentication (bot/webapp/api.py). Only the
caller's own settings are read or changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import Field

from bot.webapp.deps import api_person
from core.identity.account import AccountSettings
from core.identity.web_sessions import WebUser
from core.settings.form import FormRow

router = APIRouter(prefix="/api/v1", tags=["v1"])
CHANGES = {"timezone": "Europe/Paris", "daily_time": "21:00"}
Value = Annotated[str, Field(max_length=1000)]


def account_settings(request: Request) -> AccountSettings:
    """The settings page's operations, or 404 when this assistant has no settings page."""
    page = getattr(request.app.state, "settings_page", None)
    if page is None:
        raise HTTPException(404, "Settings are not set up on this assistant.")
    return page.account


def _field(row: FormRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "label": row.label,
        "hint": row.hint,
        "value": row.value,
        "current": row.current,
        "choices": [{"value": v, "label": label} for v, label in row.choices],
        "required": row.required,
        "max_length": row.max_length,
    }


@router.get("/settings", summary="Your settings: each field of the settings page, with its value")
async def settings(
    account: AccountSettings = Depends(account_settings), person: WebUser = Depends(api_person)
) -> list[dict[str, Any]]:
    return [_field(row) for row in (await account.view(person.user)).settings]


@router.patch(
    "/settings",
    summary="Change some of your settings ({name: value}; all are checked first: one refused (422), none stored)",
)
async def change_settings(
    values: dict[str, Value] = Body(..., openapi_examples={"two": {"value": CHANGES}}, max_length=20),
    account: AccountSettings = Depends(account_settings),
    person: WebUser = Depends(api_person),
) -> dict[str, Any]:
    rows = (await account.view(person.user)).settings
    unknown = sorted(set(values) - {row.name for row in rows})
    if unknown:
        raise HTTPException(422, [f"No setting is called {name!r}." for name in unknown])
    outcome = await account.apply(person.user, values)
    if outcome.errors:
        raise HTTPException(422, outcome.errors)
    return {"saved": outcome.saved, "settings": [_field(row) for row in (await account.view(person.user)).settings]}
