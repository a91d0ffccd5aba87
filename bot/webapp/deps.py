"""What every route of the web app needs: its services, the current person, CSRF, headers and templates."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.webapp.live import LiveAnswers
from core.chat import ChatService
from core.commands import CommandSet
from core.daily.remake import DayRemake
from core.db.database import Database
from core.google.connection import GoogleConnections
from core.google.drive import DriveClient
from core.identity.access_tokens import AccessTokens
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.identity.signin import SignIn
from core.identity.web_sessions import WebSessions, WebUser
from core.memory.wiring import LongTermMemory
from core.people import People
from core.reminders.actions import ReminderActions
from core.types import ConversationRef

COOKIE = "captainslog_web"
OPEN_COOKIE = "captainslog_web_open"
HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CSP,
}
templates = Jinja2Templates(directory=str(HERE / "templates"))
# Row ids from a URL: within the databases' 64-bit integers (a larger one made the query raise: a 500).
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]
BEFORE = "Only messages written before this message (its id; the next page's cursor)"
Before = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description=BEFORE)]
START = "From this message on, it included (its id: a page that opens at a message)"
Start = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description=START)]

# The PDF of one of the person's days, or None when there is nothing to show (bot/daily_wiring.py makes it).
DayPdf = Callable[[int, date], Awaitable[bytes | None]]


@dataclass
class Connections:
    """What the Accounts page uses: the people, the linker and profiles, and Google when it is configured."""

    people: People
    linker: AccountLinker
    profiles: Profiles
    signin: SignIn | None = None
    google: GoogleConnections | None = None
    drive: DriveClient | None = None


@dataclass
class WebApp:
    """The services behind the web app, built once by the container (or a test)."""

    db: Database
    chat: ChatService
    sessions: WebSessions
    tokens: AccessTokens
    memory: LongTermMemory | None = None
    day_pdf: DayPdf | None = None
    remake: DayRemake | None = None  # "Make it again" on the daily logs page (core/daily/remake.py)
    connections: Connections | None = None  # the Accounts page (bot/webapp/connections.py)
    reminders: ReminderActions | None = None  # the Reminders page and API (bot/webapp/reminders.py)
    assistant_name: str = "CaptainsLog"
    google_signin: bool = False
    commands: CommandSet | None = None  # commands typed in the chat, and those of buttons under its messages
    live: LiveAnswers = field(default_factory=LiveAnswers)  # answers being written for the web (bot/webapp/live.py)


def web_place(user_id: int) -> ConversationRef:
    """The person's own conversation on the web platform."""
    return ConversationRef("web", "app", f"user-{user_id}")


def webapp(request: Request) -> WebApp:
    """The app's services, or 404 when the web app is not set up."""
    found: WebApp | None = getattr(request.app.state, "webapp", None)
    if found is None:
        raise HTTPException(404, "The web app is not set up on this assistant.")
    return found


class SignInNeeded(Exception):
    """An HTML page was asked for without a session: the handler answers with the sign-in page."""


async def session_person(request: Request, web: WebApp = Depends(webapp)) -> WebUser | None:
    """The person of the session cookie, or None."""
    return await web.sessions.session(request.cookies.get(COOKIE))


async def page_person(person: WebUser | None = Depends(session_person)) -> WebUser:
    """The signed-in person of an HTML page (else the sign-in page is shown)."""
    if person is None:
        raise SignInNeeded()
    return person


async def api_person(request: Request, web: WebApp = Depends(webapp)) -> WebUser:
    """The person of an API call: a personal access token (``Authorization: Bearer``) or the session.

    With the session, a change must carry the session's CSRF token in ``X-CSRF-Token``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        person = await web.tokens.check(header[7:].strip())
        if person is None:
            raise HTTPException(401, "This access token is not valid (revoked, or its account lost access).")
        return person
    person = await web.sessions.session(request.cookies.get(COOKIE))
    if person is None:
        raise HTTPException(401, "Sign in, or send a personal access token as 'Authorization: Bearer <token>'.")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not hmac.compare_digest(
        request.headers.get("x-csrf-token", ""), person.csrf
    ):
        raise HTTPException(403, "Missing or wrong X-CSRF-Token header.")
    return person


def checked_form(person: WebUser, form: dict[str, str] | None) -> bool:
    """Whether a POSTed form carries the session's CSRF token."""
    return form is not None and hmac.compare_digest(form.get("csrf", ""), person.csrf)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template with the app's security headers (never cached)."""
    web: WebApp | None = getattr(request.app.state, "webapp", None)
    context.setdefault("assistant", web.assistant_name if web else "CaptainsLog")
    context.setdefault("person", None)
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(HEADERS)
    return response
