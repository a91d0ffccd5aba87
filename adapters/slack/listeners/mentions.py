"""``app_mention``: someone mentioned the bot in a channel; it answers in that thread."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.conversations import ConversationHandler
from adapters.slack.listeners.context import bot_user_of, team_of


def register(app: AsyncApp, handler: ConversationHandler, spawn: Callable[[Coroutine[Any, Any, Any]], object]) -> None:
    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        spawn(handler.on_mention(event, team_of(context, body, event), bot_user_of(context)))
