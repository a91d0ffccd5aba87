"""The pages that confirm and approve a link after Google's answer (core/identity/approval.py).

- The sign-in callback answers with a confirmation page naming the account being linked;
  its form POSTs to ``/signin/confirm``.
- ``GET /signin/approve/{token}`` (the link sent to the email's existing accounts) only shows
  the request with Approve and Deny; the POST decides. A link-preview crawler fetching the
  link changes nothing.

Every form carries a CSRF token: an HMAC, keyed by a random nonce in an HttpOnly cookie set
with the page, of the page's own token. A form posted from another site (no cookie, or
another browser's) is refused, and so is one replayed from elsewhere.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from bot.settings_html import document, message_page
from bot.settings_page import HEADERS, nonce_csrf, read_form
from core.identity.approval import APPROVE_PATH
from core.identity.results import Outcome, SignInResult, describe
from core.identity.signin import SignIn
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

COOKIE = "captainslog_link"
CONFIRM_PATH = "/signin/confirm"
STALE = "This form could not be checked (it was not sent from this page in this browser), so nothing changed."
_TITLES = {
    Outcome.SIGNED_IN: "Linked",
    Outcome.AWAITING_APPROVAL: "Waiting for approval",
    Outcome.LINK_DENIED: "Not linked",
    Outcome.INVALID_LINK: "This link no longer works",
}

Report = Callable[[SignInResult], Awaitable[None]]


def _form_page(
    title: str, question: str, detail: str, token: str, buttons: str, action: str, secure: bool, then: str = ""
) -> Response:
    """A page with one form: ``token`` and its CSRF value as hidden fields, and a nonce cookie.

    ``then``: the origin the form's answer redirects to (browsers hold redirects to the CSP's form-action)."""
    nonce = secrets.token_urlsafe(24)
    body = (
        f"<h1>{escape(title)}</h1><p><strong>{escape(question)}</strong></p><p>{escape(detail)}</p>"
        f'<form method="post" action="{escape(action, quote=True)}">'
        f'<input type="hidden" name="token" value="{escape(token, quote=True)}">'
        f'<input type="hidden" name="csrf" value="{nonce_csrf(nonce, token)}">{buttons}</form>'
    )
    headers = dict(HEADERS)
    if then:
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {then}"
        )
    response = HTMLResponse(document(title, body), headers=headers)
    response.set_cookie(COOKIE, nonce, max_age=86_400, path="/signin", secure=secure, httponly=True, samesite="lax")
    return response


def confirmation_page(result: SignInResult, *, secure: bool) -> Response:
    """The callback's answer when Google said who it is: "Link Discord user eve (666) to ada@…?"."""
    assert result.confirm_token is not None and result.identity is not None
    detail = (
        f"Only link it if {describe(result.identity)} is your own account. If someone sent you this link, "
        "do not link it: whoever uses that account would read your memories and use your Google tools."
    )
    buttons = (
        '<button type="submit" name="choice" value="link">Link this account</button> '
        '<button type="submit" name="choice" value="cancel">Cancel</button>'
    )
    return _form_page("Confirm the link", result.message, detail, result.confirm_token, buttons, CONFIRM_PATH, secure)


def connect_question(account: PlatformIdentity, token: str, *, secure: bool, google: str) -> Response:
    """A /connect link of a user without a verified email: ask before Google's consent, naming the account.

    ``google``: the origin of Google's consent page, where the button's answer redirects."""
    question = f"Connect your Google Drive and Calendar to {describe(account)}?"
    detail = (
        f"Whoever uses {describe(account)} will read and change the calendar and files of the Google account "
        "you choose next. If someone sent you this link, do not continue."
    )
    buttons = '<button type="submit" name="choice" value="go">Continue to Google</button>'
    return _form_page("Connect Google", question, detail, token, buttons, f"/signin/{token}", secure, google)


async def form_is_from_this_browser(request: Request, token: str) -> bool:
    """Whether the POSTed form carries ``token`` and the CSRF value of this browser's cookie."""
    return _checked(request, await read_form(request)) == token


def _checked(request: Request, form: dict[str, str] | None) -> str | None:
    """The form's token when its CSRF value matches this browser's cookie, else None."""
    if form is None:
        return None
    token, nonce = form.get("token", ""), request.cookies.get(COOKIE, "")
    if not token or not nonce or not hmac.compare_digest(form.get("csrf", ""), nonce_csrf(nonce, token)):
        return None
    return token


def _result_page(result: SignInResult) -> HTMLResponse:
    status = 200 if result.outcome in (Outcome.SIGNED_IN, Outcome.AWAITING_APPROVAL, Outcome.LINK_DENIED) else 400
    title = _TITLES.get(result.outcome, "Not linked")
    return HTMLResponse(message_page(title, result.message), status_code=status, headers=HEADERS)


def add_link_routes(app: FastAPI, report: Report) -> None:
    """Add the confirmation and approval routes; they read ``app.state.signin``; ``report`` tells the hooks."""

    def signin() -> SignIn | None:
        return getattr(app.state, "signin", None)

    refused = HTMLResponse(message_page("Not linked", STALE), status_code=403, headers=HEADERS)
    off = HTMLResponse(
        message_page("Sign-in is not set up", "This assistant has no Google sign-in."), status_code=404, headers=HEADERS
    )

    @app.post(CONFIRM_PATH)
    async def confirm(request: Request) -> Response:
        current = signin()
        if current is None:
            return off
        form = await read_form(request)
        token = _checked(request, form)
        if token is None or form is None:
            log.info("a link confirmation without a valid CSRF token was refused")
            return refused
        if form.get("choice") != "link":
            await current.approval.cancel(token)
            return HTMLResponse(
                message_page("Not linked", "Nothing was linked. You can close this page."), headers=HEADERS
            )
        result = await current.approval.confirm(token)
        await report(result)
        return _result_page(result)

    @app.get(APPROVE_PATH + "/{token}")
    async def review(token: str) -> Response:
        current = signin()
        if current is None:
            return off
        pending = await current.approval.review(token)
        if pending is None:
            gone = "This approval link no longer works (it was already used, or it is older than a day)."
            return HTMLResponse(message_page("This link no longer works", gone), status_code=400, headers=HEADERS)
        question = f"Link {describe(pending.identity)} to your account ({pending.email})?"
        detail = (
            "Someone signed in with Google as you and asked for this. Approve only if that account is yours: "
            "it will then read your memories and use your Google tools. Every account of yours is told."
        )
        buttons = (
            '<button type="submit" name="decision" value="approve">Approve</button> '
            '<button type="submit" name="decision" value="deny">Deny</button>'
        )
        action = f"{APPROVE_PATH}/{token}"
        return _form_page("Approve a new account", question, detail, token, buttons, action, _secure(current))

    @app.post(APPROVE_PATH + "/{token}")
    async def decide(token: str, request: Request) -> Response:
        current = signin()
        if current is None:
            return off
        form = await read_form(request)
        if _checked(request, form) != token or form is None or form.get("decision") not in ("approve", "deny"):
            log.info("a link approval without a valid CSRF token was refused")
            return refused
        result = await current.approval.decide(token, approve=form["decision"] == "approve")
        await report(result)
        return _result_page(result)


def _secure(signin: SignIn) -> bool:
    return signin.public_url.startswith("https://")
