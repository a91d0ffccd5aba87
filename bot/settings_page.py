"""The settings page on the bot's web server: ``GET /settings/{token}``, ``GET /settings``, ``POST /settings``.

Opening the link shows a button only (a link-preview crawler's GET spends nothing); its
POST, with a CSRF token keyed by a cookie set with the button page, uses the link up, sets a
short session cookie (HttpOnly, SameSite=Strict, Secure behind https) and moves on to
``/settings``, so the token leaves the address bar. ``POST /settings/signout`` ends the session.
That step is a page with a meta refresh, not an HTTP redirect: the link is clicked on
another site (Slack, Discord), and browsers do not send a SameSite=Strict cookie on a
redirect that is still part of a cross-site navigation; the refresh starts from this site.
The form carries a CSRF token bound to the session.  Works without JavaScript.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from bot.settings_html import message_page, moving_on_page, open_link_page, settings_page
from core.identity.account import AccountSettings
from core.identity.settings_access import LINK_PATH, SettingsAccess, SettingsSession
from core.identity.states import StateProblem, StateRefused

log = logging.getLogger(__name__)

COOKIE = "captainslog_settings"
OPEN_COOKIE = "captainslog_settings_open"  # the nonce of the link's button page (its CSRF key)
WEB_COOKIE = "captainslog_web"  # the web app's session (bot/webapp/deps.py), accepted here too
SIGNOUT_PATH = LINK_PATH + "/signout"
MAX_FORM_BYTES = 16_384
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
_LINK_PROBLEMS = {
    StateProblem.UNKNOWN: "This settings link is not valid. Ask for a new one with /account in the chat.",
    StateProblem.USED: "This settings link was already used. Ask for a new one with /account in the chat.",
    StateProblem.EXPIRED: "This settings link has expired (links work for 10 minutes). Ask for a new one with /account.",
}
ENDED = "Your settings session has ended or is not valid here. Ask for a new link with /account in the chat."
SIGNED_OUT = "You are signed out of your settings page. Ask for a new link with /account in the chat."
STALE = (
    "The form could not be checked (it was old or not sent from this page), so nothing was saved. Reload and try again."
)


@dataclass(frozen=True)
class SettingsPage:
    """What the routes need: who may look (``access``), what they see and change (``account``)."""

    access: SettingsAccess
    account: AccountSettings
    assistant_name: str = "CaptainsLog"


def nonce_csrf(nonce: str, token: str) -> str:
    """A CSRF value for a page that has no session yet: an HMAC of its token keyed by a cookie's random nonce."""
    return hmac.new(nonce.encode(), f"link:{token}".encode(), hashlib.sha256).hexdigest()


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def add_settings_routes(app: FastAPI) -> None:
    """Add the routes; they read ``app.state.settings_page`` (a :class:`SettingsPage`, or None: not set up)."""

    def configured() -> SettingsPage | None:
        return getattr(app.state, "settings_page", None)

    not_set_up = message_page(
        "Settings page not set up", "This assistant's owner has not set up its settings page (PUBLIC_URL, SECRET_KEY)."
    )

    @app.post(SIGNOUT_PATH)
    async def sign_out(request: Request) -> Response:
        page = configured()
        if page is None:
            return _html(not_set_up, 404)
        session = await page.access.session(request.cookies.get(COOKIE))
        # Opened with the web app's session (one sign-in for both): its Sign out button ends that session.
        web = getattr(request.app.state, "webapp", None) if session is None else None
        person = await web.sessions.session(request.cookies.get(WEB_COOKIE)) if web is not None else None
        csrf = session.csrf if session is not None else person.csrf if person is not None else None
        form = await read_form(request)
        if csrf is not None and (form is None or not hmac.compare_digest(form.get("csrf", ""), csrf)):
            return _html(message_page("Not signed out", STALE), 403)
        response = _html(message_page("Signed out", SIGNED_OUT))
        response.delete_cookie(
            COOKIE, path=LINK_PATH, secure=page.access.secure_cookie, httponly=True, samesite="strict"
        )
        if session is not None:
            await page.access.sign_out(session, request.cookies.get(COOKIE, ""))
            log.info("settings page: user %s signed out", session.user.id)
        if web is not None and person is not None and person.session_id is not None:
            await web.sessions.sign_out(person.session_id)
            response.delete_cookie(
                WEB_COOKIE, path="/", secure=web.sessions.secure_cookie, httponly=True, samesite="strict"
            )
            log.info("settings page: user %s signed out of the web app", person.id)
        return response

    @app.get(LINK_PATH + "/{token}")
    async def show_link(token: str) -> Response:
        """Only a button: the link is spent by the POST it sends, never by a GET (a link preview)."""
        page = configured()
        if page is None:
            return _html(not_set_up, 404)
        try:
            await page.access.check_link(token)
        except StateRefused as refused:
            log.info("settings link refused: %s", refused.problem.value)
            return _html(message_page("This link no longer works", _LINK_PROBLEMS[refused.problem]), 400)
        nonce = secrets.token_urlsafe(24)
        body = open_link_page(f"{LINK_PATH}/{token}", nonce_csrf(nonce, token), page.assistant_name)
        response = _html(body)
        # Lax, not Strict: the page was reached from a chat on another site, and its own POST must carry it.
        response.set_cookie(
            OPEN_COOKIE, nonce, max_age=600, path=LINK_PATH, secure=page.access.secure_cookie, httponly=True,
            samesite="lax",
        )  # fmt: skip
        return response

    @app.post(LINK_PATH + "/{token}")
    async def open_link(token: str, request: Request) -> Response:
        page = configured()
        if page is None:
            return _html(not_set_up, 404)
        form = await read_form(request)
        nonce = request.cookies.get(OPEN_COOKIE, "")
        if form is None or not nonce or not hmac.compare_digest(form.get("csrf", ""), nonce_csrf(nonce, token)):
            log.info("settings link: a POST without this browser's CSRF token was refused")
            return _html(message_page("Not opened", STALE), 403)
        try:
            cookie = await page.access.open(token)
        except StateRefused as refused:
            log.info("settings link refused: %s", refused.problem.value)
            return _html(message_page("This link no longer works", _LINK_PROBLEMS[refused.problem]), 400)
        response = _html(moving_on_page(LINK_PATH))
        response.delete_cookie(OPEN_COOKIE, path=LINK_PATH, secure=page.access.secure_cookie, httponly=True)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(page.access.session_lifetime.total_seconds()),
            path=LINK_PATH,
            secure=page.access.secure_cookie,
            httponly=True,
            samesite="strict",
        )
        return response

    async def signed_in(request: Request) -> tuple[SettingsPage, SettingsSession, bool] | Response:
        """The page, the request's session and whether it is the web app's, or the page saying why there is none."""
        page = configured()
        if page is None:
            return _html(not_set_up, 404)
        session, in_app = await session_and_origin(page, request)
        if session is None:
            return _html(message_page("Session ended", ENDED), 401)
        return page, session, in_app

    @app.get(LINK_PATH)
    async def show(request: Request) -> Response:
        found = await signed_in(request)
        if isinstance(found, Response):
            return found
        page, session, in_app = found
        view = await page.account.view(session.user)
        return _html(settings_page(view, csrf=session.csrf, assistant=page.assistant_name, in_app=in_app))

    @app.post(LINK_PATH)
    async def change(request: Request) -> Response:
        found = await signed_in(request)
        if isinstance(found, Response):
            return found
        page, session, in_app = found
        form = await read_form(request)
        if form is None:
            return _html(message_page("Not saved", "That form could not be read; nothing was saved."), 400)
        if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
            log.info("settings page: a form without a valid CSRF token was refused (user %s)", session.user.id)
            return _html(message_page("Not saved", STALE), 403)
        outcome = await page.account.apply(session.user, form)
        # Read the user again: the page must show what is stored now, not what the request started with.
        session = await current_session(page, request)
        if session is None:
            return _html(message_page("Session ended", ENDED), 401)
        view = await page.account.view(session.user)
        if outcome.errors:
            typed = {row.name: form[row.name] for row in view.settings if row.name in form}
            body = settings_page(
                view, csrf=session.csrf, assistant=page.assistant_name, errors=outcome.errors, typed=typed,
                in_app=in_app,
            )  # fmt: skip
            return _html(body, 400)
        notice = "" if outcome.saved else "Nothing changed."
        body = settings_page(
            view, csrf=session.csrf, assistant=page.assistant_name, saved=outcome.saved, notice=notice, in_app=in_app
        )
        return _html(body)


async def current_session(page: SettingsPage, request: Request) -> SettingsSession | None:
    """The settings session of the request: its own cookie, or the web app's session (one sign-in for both)."""
    return (await session_and_origin(page, request))[0]


async def session_and_origin(page: SettingsPage, request: Request) -> tuple[SettingsSession | None, bool]:
    """The request's settings session, and whether it is the web app's (the page then leads back into the app)."""
    session = await page.access.session(request.cookies.get(COOKIE))
    web = getattr(request.app.state, "webapp", None)
    if session is None and web is not None:
        person = await web.sessions.session(request.cookies.get(WEB_COOKIE))
        if person is not None:
            return SettingsSession(person.user, person.identity, person.csrf), True
    return session, False


async def read_form(request: Request) -> dict[str, str] | None:
    """The urlencoded form (first value of each field), or None when it is not one or is too large."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in parsed.items() if values}
