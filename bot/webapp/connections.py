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
from bot.webapp import accounts as ops
from bot.webapp.deps import CSP, HEADERS, Connections, WebApp, checked_form, page_person, render, webapp
from core.google.connection import ConnectionStatus
from core.identity.results import describe
from core.identity.web_sessions import WebUser

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


@router.get("/connections")
async def page(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    c = _connections(web)
    accounts = await c.people.accounts_of(person.id)
    status = await ops.google_status(c, person.id)
    folders, problem = await ops.drive_folders(c, person.id) if status is ConnectionStatus.CONNECTED else ([], "")
    folder = await ops.chosen_folder(c, person.id)
    response = render(
        request, "connections.html", title="Accounts", page="connections", person=person,
        accounts=[{"key": a.key, "name": describe(a), "this": a.key == person.identity.key} for a in accounts],
        google=c.signin is not None, google_state=status.value if status else "", folders=folders, problem=problem,
        folder=folder.id, folder_name=folder.name, notice=DONE.get(request.query_params.get("done", ""), ""),
    )  # fmt: skip
    if c.signin is not None:
        # "Connect Google" is answered with redirects that end at Google: the form-action must allow it.
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(c.signin.oauth.config.auth_url))
        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    return response


def _connections(web: WebApp) -> Connections:
    try:
        return ops.connections_of(web)
    except ops.Refusal as refused:
        raise HTTPException(404, refused.text) from None


def _refused(request: Request, person: WebUser, text: str, status: int) -> Response:
    return render(request, "message.html", status, title="Nothing changed", text=text, person=person)


def _answer(request: Request, person: WebUser, refused: ops.Refusal) -> Response:
    """A refusal as the page shows it: 404 as for any id that is not the person's, else a page saying why."""
    if refused.status == 404:
        raise HTTPException(404, refused.text)
    return _refused(request, person, refused.text, refused.status)


def _done(what: str) -> Response:
    return RedirectResponse(f"/connections?done={what}", status_code=303, headers=HEADERS)


@router.post("/connections/unlink")
async def unlink(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    c = _connections(web)
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return _refused(request, person, STALE, 403)
    try:
        await ops.unlink(c, person, form.get("account", ""))
    except ops.Refusal as refused:
        return _answer(request, person, refused)
    return _done("unlinked")


@router.post("/connections/google/connect")
async def connect(request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)) -> Response:
    c = _connections(web)
    if not checked_form(person, await read_form(request)):
        return _refused(request, person, STALE, 403)
    try:
        link = await ops.connect_google(c, person)
    except ops.Refusal as refused:
        return _answer(request, person, refused)
    return RedirectResponse(link, status_code=303, headers=HEADERS)  # its page goes on to Google's consent


@router.post("/connections/google/disconnect")
async def disconnect(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    c = _connections(web)
    if not checked_form(person, await read_form(request)):
        return _refused(request, person, STALE, 403)
    try:
        await ops.disconnect_google(c, person.id)
    except ops.Refusal as refused:
        return _answer(request, person, refused)
    return _done("disconnected")


@router.post("/connections/drive-folder")
async def drive_folder(
    request: Request, web: WebApp = Depends(webapp), person: WebUser = Depends(page_person)
) -> Response:
    c = _connections(web)
    form = await read_form(request)
    if form is None or not checked_form(person, form):
        return _refused(request, person, STALE, 403)
    try:
        await ops.choose_folder(c, person.id, form.get("folder", ""))
    except ops.Refusal as refused:
        return _answer(request, person, refused)
    return _done("folder")
