"""The web app's Accounts page (``/connections``): linked accounts (unlink), Google (connect, disconnect)
and the Drive folder for daily logs, picked among the folders listed from Drive.

Beside the settings form (``/settings``, the settings registry's fields). Every change is a POST with the
session's CSRF token; an account or folder is looked up among the person's own: another's answers 404.
Unlinking the person's last account is refused (nothing would be left to sign in with).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.settings_page import read_form
from bot.webapp.deps import CSP, HEADERS, Connections, WebApp, checked_form, page_person, render, webapp
from core.daily.prefs import DRIVE_FOLDER, DRIVE_FOLDER_NAME
from core.google.api import GoogleApiError
from core.google.connection import ConnectionStatus
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded
from core.google.drive import DriveFile
from core.identity.results import describe
from core.identity.web_sessions import WebUser
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
STALE = (
    "The form could not be checked (it was old or not sent from this page), so nothing changed. Reload and try again."
)
DONE = {
    "unlinked": "The account was unlinked.",
    "disconnected": "Google is disconnected: the assistant no longer reaches your Drive or Calendar.",
    "folder": "The Drive folder is chosen: the next daily logs go there.",
}
LAST = "This is your only account: unlinking it would leave nothing to sign in with, so it stays."
NO_EMAIL = (
    "This account cannot be unlinked: you never signed in with Google, so it would become a new, empty person. "
    "Sign in with Google first (then your accounts share your email)."
)


def connections_of(web: WebApp) -> Connections:
    if web.connections is None:
        raise HTTPException(404, "Accounts are not set up on this assistant.")
    return web.connections


async def _folders(c: Connections, user_id: int) -> tuple[list[DriveFile], str]:
    """The person's Drive folders, or why they could not be listed."""
    if c.drive is None:
        return [], ""
    try:
        return await c.drive.folders(user_id), ""
    except GoogleNotConnected:
        return [], ""
    except GoogleReconnectNeeded:
        return [], "Google refused the stored access: connect Google again to list your folders."
    except GoogleApiError as exc:
        log.warning("web app: Drive folders of user %s could not be listed: %s", user_id, exc)
        return [], "Your Drive folders could not be listed now; try again later."


@router.get("/connections")
async def page(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    c = connections_of(web)
    accounts = await c.people.accounts_of(person.id)
    status = await c.google.status(person.id) if c.google is not None else None
    folders, problem = await _folders(c, person.id) if status is ConnectionStatus.CONNECTED else ([], "")
    settings = await c.profiles.settings(person.id)
    response = render(
        request, "connections.html", title="Accounts", page="connections", person=person,
        accounts=[{"key": a.key, "name": describe(a), "this": a.key == person.identity.key} for a in accounts],
        google=c.signin is not None, google_state=status.value if status else "", folders=folders, problem=problem,
        folder=settings.get(DRIVE_FOLDER, ""), folder_name=settings.get(DRIVE_FOLDER_NAME, ""),
        notice=DONE.get(request.query_params.get("done", ""), ""),
    )  # fmt: skip
    if c.signin is not None:
        # "Connect Google" is answered with redirects that end at Google: the form-action must allow it.
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(c.signin.oauth.config.auth_url))
        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    return response


def _refused(request: Request, person: WebUser, text: str, status: int) -> Response:
    return render(request, "message.html", status, title="Nothing changed", text=text, person=person)


def _done(what: str) -> Response:
    return RedirectResponse(f"/connections?done={what}", status_code=303, headers=HEADERS)


@router.post("/connections/unlink")
async def unlink(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    c = connections_of(web)
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return _refused(request, person, STALE, 403)
    accounts = await c.people.accounts_of(person.id)
    chosen: PlatformIdentity | None = next((a for a in accounts if a.key == form.get("account")), None)
    if chosen is None:
        raise HTTPException(404, "No such account of yours.")
    if len(accounts) < 2:
        return _refused(request, person, LAST, 409)
    if not await c.linker.unlink(chosen):
        return _refused(request, person, NO_EMAIL, 409)
    await c.people.changed()
    log.info("web app: user %s unlinked %s", person.id, chosen.key)
    return _done("unlinked")


@router.post("/connections/google/connect")
async def connect(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    c = connections_of(web)
    if not checked_form(person, await read_form(request)):
        return _refused(request, person, STALE, 403)
    if c.signin is None:
        raise HTTPException(404, "Google is not configured on this assistant.")
    link = await c.signin.start_connect(person.identity, person.id)
    return RedirectResponse(link, status_code=303, headers=HEADERS)  # its page goes on to Google's consent


@router.post("/connections/google/disconnect")
async def disconnect(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    c = connections_of(web)
    if not checked_form(person, await read_form(request)):
        return _refused(request, person, STALE, 403)
    if c.google is None:
        raise HTTPException(404, "Google is not configured on this assistant.")
    await c.google.disconnect(person.id)
    return _done("disconnected")


@router.post("/connections/drive-folder")
async def drive_folder(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    c = connections_of(web)
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return _refused(request, person, STALE, 403)
    folders, problem = await _folders(c, person.id)
    if problem:
        return _refused(request, person, problem, 503)
    chosen = next((f for f in folders if f.id == form.get("folder")), None)
    if chosen is None:
        raise HTTPException(404, "No such folder in your Drive.")
    await c.profiles.update_settings(person.id, {DRIVE_FOLDER: chosen.id, DRIVE_FOLDER_NAME: chosen.name})
    return _done("folder")
