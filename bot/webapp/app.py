"""Adds the web app's routers, static files and the sign-in redirect to the bot's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from bot.webapp import api, auth, chat, connections, pages, reminders
from bot.webapp.deps import COOKIE, HEADERS, HERE, SignInNeeded, render

# What a browser is shown for an error a page raised; the API and scripts keep FastAPI's JSON.
HEADINGS = {404: "Not found", 405: "Not here", 400: "That did not work", 403: "Not allowed"}


def add_webapp(app: FastAPI) -> None:
    """Serve the web app on ``app``; it answers 404 until ``app.state.webapp`` is set."""
    if not hasattr(app.state, "webapp"):
        app.state.webapp = None

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/signin", status_code=303, headers=HEADERS)

    def for_a_browser(request: Request) -> bool:
        return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")

    async def page(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
        web = app.state.webapp
        person = await web.sessions.session(request.cookies.get(COOKIE)) if web is not None else None
        heading = HEADINGS.get(status, "Something went wrong")
        response = render(request, "error.html", status, heading=heading, detail=detail, person=person)
        response.headers.update(headers or {})
        return response

    async def error_page(request: Request, exc: HTTPException) -> Response:
        if not for_a_browser(request):
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != "Not Found" else "There is no such page."
        return await page(request, exc.status_code, detail, exc.headers)

    async def unreadable_page(request: Request, exc: RequestValidationError) -> Response:
        if not for_a_browser(request):
            return await request_validation_exception_handler(request, exc)
        return await page(request, 400, "This address holds a value the page cannot read (a number or a date?).")

    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.add_exception_handler(HTTPException, error_page)
    app.add_exception_handler(RequestValidationError, unreadable_page)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(auth.router)
    app.include_router(chat.router)
    app.include_router(pages.router)
    app.include_router(connections.router)
    app.include_router(reminders.router)
    api.add_api(app)
