"""Adds the web app's routers, static files and the sign-in redirect to the bot's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from bot.webapp import api, auth, chat, connections, pages
from bot.webapp.deps import COOKIE, HEADERS, HERE, SignInNeeded, render

# What a browser is shown for an error a page raised; the API and scripts keep FastAPI's JSON.
HEADINGS = {404: "Not found", 405: "Not here", 400: "That did not work", 403: "Not allowed"}


def add_webapp(app: FastAPI) -> None:
    """Serve the web app on ``app``; it answers 404 until ``app.state.webapp`` is set."""
    if not hasattr(app.state, "webapp"):
        app.state.webapp = None

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/signin", status_code=303, headers=HEADERS)

    async def error_page(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        web = app.state.webapp
        person = await web.sessions.session(request.cookies.get(COOKIE)) if web is not None else None
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != "Not Found" else "There is no such page."
        heading = HEADINGS.get(exc.status_code, "Something went wrong")
        response = render(request, "error.html", exc.status_code, heading=heading, detail=detail, person=person)
        response.headers.update(exc.headers or {})
        return response

    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.add_exception_handler(HTTPException, error_page)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(auth.router)
    app.include_router(chat.router)
    app.include_router(pages.router)
    app.include_router(connections.router)
    api.add_api(app)
