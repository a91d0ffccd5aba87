"""Reading the workspace and the bot's own user id from a Bolt request."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext


def team_of(context: AsyncBoltContext, body: dict[str, Any], event: dict[str, Any] | None = None) -> str:
    """The workspace the event belongs to."""
    return str(context.team_id or body.get("team_id") or (event or {}).get("team") or "")


def bot_user_of(context: AsyncBoltContext) -> str:
    """The bot's user id (from auth.test), to recognise mentions of it."""
    return str(context.bot_user_id or "")
