"""The API's side of the Accounts and Access tokens pages: linked accounts (unlink), Google (connect,
disconnect), the Drive folder for daily logs, and personal access tokens.

The same operations as the pages (bot/webapp/accounts.py, core/identity/access_tokens.py), under
``/api/v1`` with the same authentication (bot/webapp/api.py). An account, folder or token that is
not the caller's answers 404, as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bot.webapp import accounts as ops
from bot.webapp.deps import Connections, RowId, WebApp, api_person, webapp
from core.google.connection import ConnectionStatus
from core.identity.access_tokens import MAX_NAME, TokenInfo
from core.identity.results import describe
from core.identity.web_sessions import WebUser

router = APIRouter(prefix="/api/v1", tags=["v1"])
NOT_CONNECTED = "Google is not connected: connect it first (POST /api/v1/google/connect)."
T = TypeVar("T")


def _connections(web: WebApp) -> Connections:
    try:
        return ops.connections_of(web)
    except ops.Refusal as refused:
        raise HTTPException(refused.status, refused.text) from None


async def _or_refused(operation: Awaitable[T]) -> T:
    """What ``operation`` gives, or its refusal as the HTTP error it names (409, 404, 503...)."""
    try:
        return await operation
    except ops.Refusal as refused:
        raise HTTPException(refused.status, refused.text) from None


@router.get("/accounts", summary="Your linked accounts (Discord, Slack, the terminal…)")
async def accounts(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> list[dict[str, Any]]:
    c = _connections(web)
    return [
        {"id": a.key, "platform": a.platform, "name": describe(a), "current": a.key == person.identity.key}
        for a in await c.people.accounts_of(person.id)
    ]


@router.delete(
    "/accounts/{account_id}",
    status_code=204,
    summary="Unlink one of your accounts (its id: platform:workspace:user); never your only one (409)",
)
async def unlink(account_id: str, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> Response:
    await _or_refused(ops.unlink(_connections(web), person, account_id))
    return Response(status_code=204)


@router.get("/google", summary="Whether your Google Drive and Calendar are connected")
async def google(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> dict[str, Any]:
    c = _connections(web)
    status = await ops.google_status(c, person.id)
    return {"configured": status is not None, "status": status.value if status else None}


@router.post("/google/connect", summary="A single-use link that connects your Google Drive and Calendar (open it)")
async def connect_google(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> dict[str, str]:
    return {"link": await _or_refused(ops.connect_google(_connections(web), person))}


@router.delete("/google", status_code=204, summary="Disconnect Google: its access is revoked and forgotten")
async def disconnect_google(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> Response:
    await _or_refused(ops.disconnect_google(_connections(web), person.id))
    return Response(status_code=204)


@router.get("/drive-folders", summary="Your Drive folders the daily logs can go to, and the chosen one")
async def drive_folders(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> dict[str, Any]:
    c = _connections(web)
    if await ops.google_status(c, person.id) is not ConnectionStatus.CONNECTED:
        raise HTTPException(409, NOT_CONNECTED)
    folders, problem = await ops.drive_folders(c, person.id)
    if problem:
        raise HTTPException(503, problem)
    chosen = await ops.chosen_folder(c, person.id)
    return {
        "chosen": {"id": chosen.id, "name": chosen.name} if chosen.id else None,
        "folders": [{"id": f.id, "name": f.name, "link": f.web_view_link} for f in folders],
    }


class FolderChoice(BaseModel):
    id: str = Field(min_length=1, max_length=200, description="A folder id from GET /api/v1/drive-folders")


@router.put("/drive-folder", summary="Choose the Drive folder of your next daily logs (one Drive lists)")
async def choose_folder(
    body: FolderChoice, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, str]:
    chosen = await _or_refused(ops.choose_folder(_connections(web), person.id, body.id))
    return {"id": chosen.id, "name": chosen.name}


def _token(t: TokenInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "created_at": t.created_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
    }


@router.get("/tokens", summary="Your personal access tokens that still work (never the tokens themselves)")
async def tokens(web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)) -> list[dict[str, Any]]:
    return [_token(t) for t in await web.tokens.list(person.id)]


class TokenName(BaseModel):
    name: str = Field("", max_length=MAX_NAME, description="What the token is for (e.g. 'laptop script')")


@router.post("/tokens", status_code=201, summary="Make a personal access token: its value is shown only here, once")
async def create_token(
    body: TokenName, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> dict[str, Any]:
    made, raw = await web.tokens.issue(person.id, person.identity, body.name)
    return {**_token(made), "token": raw}


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke one of your personal access tokens")
async def revoke_token(
    token_id: RowId, web: WebApp = Depends(webapp), person: WebUser = Depends(api_person)
) -> Response:
    if not await web.tokens.revoke(person.id, token_id):
        raise HTTPException(404, "No such token.")
    return Response(status_code=204)
