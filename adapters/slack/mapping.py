"""Small translations between Slack's payloads and the core's types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.commands import Command, CommandOption
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


def parse_options(command: Command, text: str) -> dict[str, str]:
    """Slack hands a slash command one string; spread it over the command's options.

    A single option takes the whole text (``/image a cat on a mat``), written
    bare or named: ``timezone:Europe/Paris``, ``timezone=Europe/Paris`` or
    ``timezone Europe/Paris`` (the last only when one word follows, so a prompt
    that happens to start with the option's name stays whole).  With several
    options, ``name:value`` pairs are read and any leftover text goes to the first.
    """
    text = text.strip()
    options: Sequence[CommandOption] = command.options
    if not options or not text:
        return {}
    if len(options) == 1:
        name = options[0].name
        named = re.match(rf"^{re.escape(name)}\s*[:=]\s*(.*)$", text, re.IGNORECASE | re.DOTALL)
        if named:
            return {name: named.group(1).strip()}
        spaced = re.match(rf"^{re.escape(name)}\s+(\S+)$", text, re.IGNORECASE)
        return {name: spaced.group(1) if spaced else text}
    names = "|".join(re.escape(o.name) for o in options)
    found: dict[str, str] = {}
    pair = re.compile(rf"(?:^|\s)({names})\s*[:=]\s*(\S+)", re.IGNORECASE)
    for match in pair.finditer(text):
        found[match.group(1).lower()] = match.group(2)
    rest = pair.sub(" ", text).strip()
    if rest and options[0].name not in found:
        found[options[0].name] = rest
    return found
