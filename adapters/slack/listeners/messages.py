"""``message`` events: DMs, replies in our threads, edits and deletes (message.im, .channels, .groups)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.conversations import ConversationHandler
from adapters.slack.listeners.context import bot_user_of, team_of


def register(app: AsyncApp, handler: ConversationHandler, spawn: Callable[[Coroutine[Any, Any, Any]], object]) -> None:
    """Every message event goes to the handler, which ignores what is not for the assistant."""

    @app.event("message")
    async def on_message(event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        spawn(handler.on_message(event, team_of(context, body, event), bot_user_of(context)))
