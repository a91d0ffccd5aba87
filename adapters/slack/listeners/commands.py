"""Slash commands: acknowledged at once (Slack allows 3 seconds), worked on afterwards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from adapters.slack.commands import SlashCommands


def register(app: AsyncApp, commands: SlashCommands, spawn: Callable[[Coroutine[Any, Any, Any]], object]) -> None:
    """One listener per command of the core's CommandSet."""
    for name in commands.names():
        app.command(f"/{name}")(_listener(name, commands, spawn))


def _listener(
    name: str, commands: SlashCommands, spawn: Callable[[Coroutine[Any, Any, Any]], object]
) -> Callable[..., Awaitable[None]]:
    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        if not await commands.claim(command):
            await ack()  # delivered to another process of the app as well, which runs it
            return
        text = commands.ack_text(name)
        await (ack(text=text, response_type="ephemeral") if text else ack())
        spawn(commands.run(name, command, respond))

    on_command.__name__ = f"on_{name}_command"
    return on_command
