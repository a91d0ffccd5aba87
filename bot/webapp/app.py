"""Adds the web app's routers, static files and the sign-in redirect to the bot's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bot.webapp import api, auth, chat, connections, pages
from bot.webapp.deps import HEADERS, HERE, SignInNeeded


def add_webapp(app: FastAPI) -> None:
    """Serve the web app on ``app``; it answers 404 until ``app.state.webapp`` is set."""
    if not hasattr(app.state, "webapp"):
        app.state.webapp = None

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/signin", status_code=303, headers=HEADERS)

    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(auth.router)
    app.include_router(chat.router)
    app.include_router(pages.router)
    app.include_router(connections.router)
    api.add_api(app)
