"""The web app: chat, timeline, search, memories, daily logs, access tokens and the REST API.

Served by the bot's one web server (bot/web.py): :func:`add_webapp` adds the routers; they read
``app.state.webapp`` (a :class:`WebApp`, or None: the app answers 404 until it is set).
"""

from bot.webapp.app import add_webapp
from bot.webapp.deps import WebApp

__all__ = ["WebApp", "add_webapp"]
