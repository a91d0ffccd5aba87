"""The shared command set (core.commands) as Discord application commands."""

from __future__ import annotations

import inspect
import io
import logging
from contextlib import suppress
from typing import Any

import discord
from discord import app_commands

from adapters.discord.mapping import identity_of, place_of
from core.commands import Command, CommandReply, CommandRequest, CommandSet

log = logging.getLogger(__name__)


def register_commands(tree: app_commands.CommandTree, commands: CommandSet) -> None:
    """Add every command of ``commands`` to ``tree`` (usable in DMs and servers)."""
    for command in commands.commands.values():
        tree.add_command(_app_command(command, commands))


def _app_command(command: Command, commands: CommandSet) -> app_commands.Command[Any, ..., None]:
    async def callback(interaction: discord.Interaction, **options: str | None) -> None:
        await _run(interaction, command, commands, {k: v for k, v in options.items() if v is not None})

    # discord.py reads a command's options from its callback's signature.
    parameters = [
        inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)
    ]
    for option in command.options:
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str if option.required else str | None,
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {o.name: o.description for o in command.options}  # type: ignore[attr-defined]
    app_command = app_commands.Command(name=command.name, description=command.description[:100], callback=callback)
    app_command.allowed_contexts = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)
    app_command.allowed_installs = app_commands.AppInstallationType(guild=True, user=False)
    return app_command


async def _run(
    interaction: discord.Interaction, command: Command, commands: CommandSet, options: dict[str, str]
) -> None:
    channel = interaction.channel
    channel_id = interaction.channel_id or 0
    guild_id = interaction.guild_id
    request = CommandRequest(identity_of(interaction.user, guild_id), place_of(channel_id, guild_id), options)
    # Every unsharded session of the bot receives the interaction: one process answers it.
    if not await commands.claim(request.place, f"interaction:{interaction.id}", interaction.created_at):
        log.info("/%s (interaction %s) is run by another process", command.name, interaction.id)
        return
    if command.slow:
        # Discord wants an answer within 3 seconds: say we're on it, follow up when done.  The
        # "thinking…" line is only the caller's, so a refusal (a stranger, a spent quota) stays private.
        await interaction.response.defer(thinking=True, ephemeral=True)
        reply = await commands.run(command.name, request)
        if reply.private:
            await interaction.followup.send(**_message(reply), ephemeral=True)  # replaces the "thinking…" line
            return
        # The first follow-up would take the deferred message's privacy; the result is for the channel.
        with suppress(discord.HTTPException):
            await interaction.delete_original_response()
        await interaction.followup.send(**_message(reply))
        return
    reply = await commands.run(command.name, request)
    await interaction.response.send_message(**_message(reply), ephemeral=reply.private)
    log.debug("/%s in %s", command.name, channel)


def _message(reply: CommandReply) -> dict[str, Any]:
    files = [
        discord.File(io.BytesIO(f.data), filename=f.filename, description=f.description[:1000] or None)
        for f in reply.files
    ]
    return {"content": reply.text[:2000], "files": files, "allowed_mentions": discord.AllowedMentions.none()}
