"""Signing in and out: the single-use link (``/account`` in a chat, ``captainslog link``), sign-out, everywhere.

The link's GET shows only a button (a link preview's GET spends nothing); its POST, CSRF-checked
with a nonce cookie set by that page, spends the link, stores a session and sets its cookie
(HttpOnly, SameSite=Strict, Secure under https). It answers with a page that moves on by
itself: a Strict cookie is not sent on a redirect that is still part of the click from the chat's site.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from bot.settings_page import nonce_csrf, read_form
from bot.webapp.deps import COOKIE, CSP, HEADERS, OPEN_COOKIE, WebApp, checked_form, render, session_person, webapp
from core.identity.signin import CALLBACK_PATH, SignIn
from core.identity.states import StateProblem, StateRefused
from core.identity.web_sessions import WEB_LINK_PATH, WebUser

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
GOOGLE_START_PATH = "/signin-with-google"
GOOGLE_STATE_COOKIE = "captainslog_google_state"
# Where a new link comes from: a link made in another folder (another database and key) is "not valid" here.
NEW_LINK = "Ask for a new one: /account in a chat, or `captainslog link` run in the folder the assistant runs in."
LINK_PROBLEMS = {
    StateProblem.UNKNOWN: f"This sign-in link is not valid here. {NEW_LINK}",
    StateProblem.USED: f"This sign-in link was already used. {NEW_LINK}",
    StateProblem.EXPIRED: f"This sign-in link has expired (links work for 10 minutes). {NEW_LINK}",
}
STALE = (
    "The form could not be checked (it was old or not sent from this page), so nothing happened. Reload and try again."
)


def message(request: Request, title: str, text: str, status: int = 200) -> Response:
    return render(request, "message.html", status, title=title, text=text)


@router.get("/")
async def home(person: WebUser | None = Depends(session_person)) -> Response:
    return RedirectResponse("/chat" if person else "/signin", status_code=303, headers=HEADERS)


@router.get("/signin")
async def signin_page(
    request: Request, web: WebApp = Depends(webapp), person: WebUser | None = Depends(session_person)
) -> Response:
    signin: SignIn | None = getattr(request.app.state, "signin", None)
    google = web.google_signin and signin is not None
    response = render(request, "signin.html", person=person, google=google)
    if signin is not None and google:
        # The button's POST is answered with a redirect to Google: the form-action must allow its origin.
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(signin.oauth.config.auth_url))
        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    return response


@router.get(WEB_LINK_PATH + "/{token}")
async def show_link(token: str, request: Request, web: WebApp = Depends(webapp)) -> Response:
    try:
        await web.sessions.check_link(token)
    except StateRefused as refused:
        log.info("web app: sign-in link refused: %s", refused.problem.value)
        return message(request, "This link no longer works", LINK_PROBLEMS[refused.problem], 400)
    nonce = secrets.token_urlsafe(24)
    response = render(request, "open_link.html", action=f"{WEB_LINK_PATH}/{token}", csrf=nonce_csrf(nonce, token))
    # Lax, not Strict: the page was reached from a chat on another site, and its own POST must carry it.
    response.set_cookie(
        OPEN_COOKIE, nonce, max_age=600, path=WEB_LINK_PATH, secure=web.sessions.secure_cookie, httponly=True,
        samesite="lax",
    )  # fmt: skip
    return response


@router.post(WEB_LINK_PATH + "/{token}")
async def open_link(token: str, request: Request, web: WebApp = Depends(webapp)) -> Response:
    form = await read_form(request)
    nonce = request.cookies.get(OPEN_COOKIE, "")
    if form is None or not nonce or not secrets.compare_digest(form.get("csrf", ""), nonce_csrf(nonce, token)):
        log.info("web app: a sign-in POST without this browser's CSRF token was refused")
        return message(request, "Not signed in", STALE, 403)
    try:
        cookie = await web.sessions.open(token)
    except StateRefused as refused:
        return message(request, "This link no longer works", LINK_PROBLEMS[refused.problem], 400)
    response = signed_in(request, web, cookie)
    response.delete_cookie(OPEN_COOKIE, path=WEB_LINK_PATH, secure=web.sessions.secure_cookie, httponly=True)
    return response


def signed_in(request: Request, web: WebApp, cookie: str) -> Response:
    """The page that sets a new session's cookie and moves on to the chat by itself."""
    response = render(request, "moving_on.html", target="/chat")
    response.set_cookie(
        COOKIE, cookie, max_age=int(web.sessions.lifetime.total_seconds()), path="/",
        secure=web.sessions.secure_cookie, httponly=True, samesite="strict",
    )  # fmt: skip
    return response


@router.post(GOOGLE_START_PATH)
async def sign_in_with_google(request: Request, web: WebApp = Depends(webapp)) -> Response:
    """Off to Google's consent; the state goes into a cookie the callback compares (this browser only)."""
    signin: SignIn | None = getattr(request.app.state, "signin", None)
    if signin is None or not web.google_signin:
        return message(request, "Not available", "This assistant has no Google sign-in configured.", 404)
    state, url = await signin.start_web()
    response = RedirectResponse(url, status_code=303, headers=HEADERS)
    # Lax: the callback is a top-level navigation coming back from Google's site.
    response.set_cookie(
        GOOGLE_STATE_COOKIE, state, max_age=600, path=CALLBACK_PATH, secure=web.sessions.secure_cookie,
        httponly=True, samesite="lax",
    )  # fmt: skip
    return response


async def _sign_out(request: Request, web: WebApp, person: WebUser | None, everywhere: bool) -> Response:
    form = await read_form(request)
    if person is not None and not checked_form(person, form):
        return message(request, "Not signed out", STALE, 403)
    if person is not None and person.session_id is not None:
        if everywhere:
            await web.sessions.sign_out_everywhere(person.id)
        else:
            await web.sessions.sign_out(person.session_id)
    text = "You are signed out" + (" on every browser." if everywhere else ".")
    response = message(request, "Signed out", text + " Ask for a new link with /account in the chat.")
    response.delete_cookie(COOKIE, path="/", secure=web.sessions.secure_cookie, httponly=True, samesite="strict")
    return response


@router.post("/signout")
async def sign_out(
    request: Request, web: WebApp = Depends(webapp), person: WebUser | None = Depends(session_person)
) -> Response:
    return await _sign_out(request, web, person, everywhere=False)


@router.post("/signout/everywhere")
async def sign_out_everywhere(
    request: Request, web: WebApp = Depends(webapp), person: WebUser | None = Depends(session_person)
) -> Response:
    return await _sign_out(request, web, person, everywhere=True)
