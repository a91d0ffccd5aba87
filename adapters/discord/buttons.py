"""Buttons on Discord: a row of components under a post, and a press run as the command it names.

A press arrives as an ``INTERACTION_CREATE`` of type 3 (a message component) with the
button's ``custom_id``. It is claimed once across the bot's processes (every gateway
session receives it), run as a command of the :class:`core.commands.CommandSet`, and
answered by updating the pressed message: its text followed by the outcome, the
buttons gone (a pressed "Snooze" cannot be pressed twice by mistake).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from adapters.discord.limits import MAX_MESSAGE_CHARS
from adapters.discord.mapping import identity_of, place_of
from core.buttons import Button, parse_action
from core.commands import CommandRequest, CommandSet, options_from_line

log = logging.getLogger(__name__)

# Discord takes at most five buttons in a row.
ROW = 5


def view_of(buttons: Sequence[Button]) -> discord.ui.View:
    """A view holding `buttons` (rows of five), for ``send(view=...)``.

    The view is stopped at once: presses are handled by :func:`on_press` for every
    message, including those posted by another process or before a restart, so
    discord.py must not keep (and time out) a view per message.
    """
    view = discord.ui.View(timeout=None)
    for index, button in enumerate(buttons):
        view.add_item(
            discord.ui.Button(
                label=button.label[:80],
                custom_id=button.action_id,
                style=discord.ButtonStyle.secondary,
                row=index // ROW,
            )
        )
    view.stop()
    return view


async def on_press(interaction: discord.Interaction, commands: CommandSet) -> None:
    """Run a press on one of our buttons; other interactions are left to discord.py's command tree."""
    if interaction.type != discord.InteractionType.component:
        return
    custom_id = str((interaction.data or {}).get("custom_id") or "")
    parsed = parse_action(custom_id)
    if parsed is None:
        return
    name, argument = parsed
    channel_id = interaction.channel_id or 0
    guild_id = interaction.guild_id
    place = place_of(channel_id, guild_id)
    if not await commands.claim(place, f"interaction:{interaction.id}", interaction.created_at):
        log.info("button %s (interaction %s) is run by another process", custom_id, interaction.id)
        return
    command = commands.commands.get(name)
    options = options_from_line(command, argument) if command is not None else {}
    reply = await commands.run(name, CommandRequest(identity_of(interaction.user, guild_id), place, options))
    shown = interaction.message.content if interaction.message is not None else ""
    text = f"{shown}\n{reply.text}" if shown else reply.text
    try:
        await interaction.response.edit_message(
            content=text[:MAX_MESSAGE_CHARS], view=None, allowed_mentions=discord.AllowedMentions.none()
        )
    except discord.HTTPException as exc:
        log.warning("could not answer the press on %s: %s", custom_id, exc)
