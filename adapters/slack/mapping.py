"""Small translations between Slack's payloads and the core's types."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from core.types import ConversationRef

PLATFORM = "slack"


def dm_ref(team_id: str, channel: str) -> ConversationRef:
    """A DM is one conversation, whatever thread a message in it is in."""
    return ConversationRef(PLATFORM, team_id, channel, "")


def thread_ref(team_id: str, channel: str, thread_ts: str) -> ConversationRef:
    """A channel thread started by mentioning the bot."""
    return ConversationRef(PLATFORM, team_id, channel, thread_ts)


def author_team(event: dict[str, Any]) -> str:
    """The team of the message's author (``user_team``), "" when Slack does not say.

    Never the installation's team: in a Slack Connect channel (or, on Enterprise
    Grid, from another workspace) the author belongs to a team of their own, and
    an allowlist entry ``slack:<our team>:*`` must not let them in.
    """
    team = event.get("user_team")
    return team if isinstance(team, str) else ""


def command_team(payload: dict[str, Any]) -> str:
    """The team of the user who ran a slash command (``user.team_id`` or ``team_id``), "" when absent."""
    user = payload.get("user")
    if isinstance(user, dict) and isinstance(user.get("team_id"), str):
        return str(user["team_id"])
    team = payload.get("team_id")
    return team if isinstance(team, str) else ""


def is_direct(channel_type: str | None, channel: str) -> bool:
    """Whether the event comes from a DM with the bot."""
    return channel_type == "im" if channel_type else channel.startswith("D")


def ts_to_datetime(ts: str | None) -> datetime:
    """A Slack ts (seconds since the epoch, as text) as an aware UTC time; now when absent."""
    try:
        return datetime.fromtimestamp(float(ts), UTC) if ts else datetime.now(UTC)
    except ValueError:
        return datetime.now(UTC)


def mentions(text: str, user_id: str) -> bool:
    """Whether ``text`` mentions ``user_id`` (``<@U123>`` or ``<@U123|name>``)."""
    return bool(user_id) and re.search(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>", text) is not None


# Message subtypes that are a user saying something; every other one (joins,
# topic changes, bot messages...) is not for the assistant.
USER_SUBTYPES = frozenset({None, "", "file_share", "thread_broadcast"})


def addressed(event: dict[str, Any], team_id: str, bot_user_id: str) -> tuple[ConversationRef, str, bool] | None:
    """Whether a user's ``message`` event is for the assistant, from the payload alone.

    ``(place, the thread to answer in ("" for the channel itself), whether it is for us only
    if the thread is a conversation of ours)``, or None. A mention comes as ``app_mention``.
    """
    if event.get("subtype") not in USER_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return None
    channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
    thread_ts = str(event.get("thread_ts") or "")
    if is_direct(event.get("channel_type"), channel):
        return dm_ref(team_id, channel), thread_ts, False
    if not thread_ts or thread_ts == ts or mentions(str(event.get("text") or ""), bot_user_id):
        return None  # top-level channel chatter is not for us; a mention comes as app_mention
    return thread_ref(team_id, channel, thread_ts), thread_ts, True
