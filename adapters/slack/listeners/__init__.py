"""Bolt listeners, one small module per kind of Slack event (bolt-python style).

Each listener only acknowledges, picks the handler and starts the work as a
background task of the service, so Slack is answered at once and stopping the
service can account for everything still running.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.app.async_app import AsyncApp

from adapters.slack.buttons import ButtonPresses
from adapters.slack.commands import SlashCommands
from adapters.slack.conversations import ConversationHandler
from adapters.slack.listeners import assistant, buttons, commands, mentions, messages

Spawn = Callable[[Coroutine[Any, Any, Any]], object]


def register_listeners(
    app: AsyncApp,
    *,
    conversations: ConversationHandler,
    slash_commands: SlashCommands,
    presses: ButtonPresses,
    spawn: Spawn,
) -> None:
    """Attach every listener of the assistant to ``app``."""
    messages.register(app, conversations, spawn)
    mentions.register(app, conversations, spawn)
    commands.register(app, slash_commands, spawn)
    buttons.register(app, presses, spawn)
    assistant.register(app)
