"""Slash commands on Slack: the core's commands, run after Slack has been acknowledged.

Slack wants an acknowledgement within 3 seconds; the listener acks at once and
this module does the work afterwards.  Replies go back through the command's
``response_url`` (ephemeral when only the caller should see them); files are
shared into the channel with the external upload flow (a private reply's files only into a DM).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.budgeted_call import SENT_ONCE, BudgetedCalls
from adapters.rate_window import Priority
from adapters.slack.conversations import SurfaceFactory
from adapters.slack.identity import SlackIdentities
from adapters.slack.mapping import command_team, dm_ref
from adapters.slack.mrkdwn import to_mrkdwn
from core.commands import CommandReply, CommandRequest, CommandSet, options_from_line

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]


class SlashCommands:
    """Runs ``/new``, ``/image``, ``/forget``, ``/help``, ``/settings`` (every command of the CommandSet)."""

    def __init__(self, *, commands: CommandSet, identities: SlackIdentities, surfaces: SurfaceFactory) -> None:
        self.commands = commands
        self.identities = identities
        self.surfaces = surfaces

    def names(self) -> list[str]:
        """The command names to register with Bolt (without the slash)."""
        return list(self.commands.commands)

    def ack_text(self, name: str) -> str | None:
        """What the caller sees at once for a slow command (None: nothing, the reply follows quickly)."""
        command = self.commands.commands.get(name)
        return "Working on it…" if command is not None and command.slow else None

    async def claim(self, payload: dict[str, Any]) -> bool:
        """Whether this process runs the command (its ``trigger_id`` is claimed once across processes)."""
        trigger = str(payload.get("trigger_id") or "")
        if not trigger:
            return True
        place = dm_ref(str(payload.get("team_id", "")), str(payload.get("channel_id", "")))
        if await self.commands.claim(place, f"command:{trigger[:54]}"):
            return True
        log.info("/%s (trigger %s) is run by another process", payload.get("command", ""), trigger)
        return False

    async def run(self, name: str, payload: dict[str, Any], respond: Respond) -> None:
        """Run one command from Slack's payload and deliver its reply."""
        team_id = str(payload.get("team_id", ""))
        channel = str(payload.get("channel_id", ""))
        # The caller's own team decides access, as for messages (see mapping.command_team).
        identity = await self.identities.identity(command_team(payload), str(payload.get("user_id", "")))
        command = self.commands.commands.get(name)
        options = options_from_line(command, str(payload.get("text") or "")) if command is not None else {}
        # Slash commands cannot be run inside a thread, so the place is the channel (a DM's conversation).
        request = CommandRequest(identity=identity, place=dm_ref(team_id, channel), options=options)
        reply = await self.commands.run(name, request)
        await self._deliver(reply, team_id, channel, respond)

    async def _deliver(self, reply: CommandReply, team_id: str, channel: str, respond: Respond) -> None:
        text = to_mrkdwn(reply.text)
        if reply.files and reply.private and not channel.startswith("D"):
            # A file cannot be shown to the caller alone (ephemeral messages carry none): never share it here.
            names = ", ".join(file.filename for file in reply.files)
            log.info("a private reply's file (%s) was not shared in channel %s", names, channel)
            note = f"I can't share {names} here where only you would see it; ask again in our direct messages."
            await self._respond(respond, f"{text}\n\n{note}" if text else note, private=True)
            return
        if reply.files:
            surface = self.surfaces(team_id, channel)
            calls = BudgetedCalls(surface.budget)  # a refusal with a rate limit is waited out and tried again
            for index, file in enumerate(reply.files):
                comment = text if index == 0 and text else None
                try:
                    await calls.call(
                        surface.windows("upload"),
                        Priority.FIRST,
                        lambda f=file, c=comment: surface.upload(f, comment=c),  # type: ignore[misc]
                        what=f"sharing {file.filename}",
                        policy=SENT_ONCE,  # an upload the network lost may have landed: never shared twice
                    )
                except Exception as exc:  # noqa: BLE001 - the caller hears about it either way
                    log.warning("could not share %s in %s: %s", file.filename, channel, exc)
                    await self._respond(
                        respond,
                        f"I made {file.filename} but could not share it here (is the app in this channel?).",
                        private=True,
                    )
                    return
            return
        await self._respond(respond, text, private=reply.private)

    @staticmethod
    async def _respond(respond: Respond, text: str, *, private: bool) -> None:
        try:
            await respond(text=text, response_type="ephemeral" if private else "in_channel")
        except Exception as exc:  # noqa: BLE001 - nothing else to tell the user with
            log.warning("could not answer a slash command: %s", exc)
