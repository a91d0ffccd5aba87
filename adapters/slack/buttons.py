"""Buttons on Slack: Block Kit ``actions`` under a post, and a press (``block_actions``) run as its command.

A post with buttons carries its text twice, as Slack wants: the ``text`` (notifications,
read-backs) and a ``section`` block showing it, followed by an ``actions`` block. A press
is acknowledged at once, claimed once across processes (by its ``trigger_id``), run as a
command of the :class:`core.commands.CommandSet`, and answered by updating the pressed
message: its text followed by the outcome, the buttons gone.
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.budgeted_call import BudgetedCalls
from adapters.rate_window import Priority
from adapters.slack.blocks import SECTION_MAX
from adapters.slack.conversations import SurfaceFactory
from adapters.slack.identity import SlackIdentities
from adapters.slack.mapping import dm_ref
from adapters.slack.mrkdwn import to_mrkdwn
from core.buttons import parse_action
from core.commands import CommandRequest, CommandSet, options_from_line

log = logging.getLogger(__name__)


class ButtonPresses:
    """Runs the presses on the assistant's buttons."""

    def __init__(self, *, commands: CommandSet, identities: SlackIdentities, surfaces: SurfaceFactory) -> None:
        self.commands = commands
        self.identities = identities
        self.surfaces = surfaces

    async def run(self, body: dict[str, Any]) -> None:
        """Run the press described by a ``block_actions`` payload (already acknowledged)."""
        actions = body.get("actions") or []
        action_id = str(actions[0].get("action_id") or "") if actions else ""
        parsed = parse_action(action_id)
        if parsed is None:
            return
        team = str((body.get("team") or {}).get("id") or "")
        user = body.get("user") or {}
        channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        message = body.get("message") or {}
        ts = str(message.get("ts") or (body.get("container") or {}).get("message_ts") or "")
        place = dm_ref(team, channel)
        trigger = str(body.get("trigger_id") or "")
        if trigger and not await self.commands.claim(place, f"action:{trigger[:54]}"):
            log.info("button %s (trigger %s) is run by another process", action_id, trigger)
            return
        name, argument = parsed
        identity = await self.identities.identity(str(user.get("team_id") or team), str(user.get("id") or ""))
        command = self.commands.commands.get(name)
        options = options_from_line(command, argument) if command is not None else {}
        reply = await self.commands.run(name, CommandRequest(identity, place, options))
        shown = str(message.get("text") or "")
        text = f"{shown}\n{to_mrkdwn(reply.text)}" if shown else to_mrkdwn(reply.text)
        surface = self.surfaces(team, channel)
        try:
            await BudgetedCalls(surface.budget).call(
                surface.windows("edit"), Priority.FIRST, lambda: surface.drop_buttons(ts, text[:SECTION_MAX]),
                what=f"the answer to the press on {action_id}",
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the press took effect; only showing it failed
            log.warning("could not answer the press on %s: %s", action_id, exc)
