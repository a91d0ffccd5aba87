"""Telling a stranger they are not let in, where only they can read it."""

from __future__ import annotations

import logging

import discord

from adapters.discord.mapping import small_print
from adapters.discord.surface import NO_MENTIONS

log = logging.getLogger(__name__)


async def refuse_privately(message: discord.Message, refusal: str) -> None:
    """Answer ``message`` with ``refusal`` in its author's DM, never in a server channel.

    A refusal may carry a sign-in link bound to the stranger's account: anyone who
    followed it would sign in for that account, so it is never shown to a server.
    A user whose DMs are closed is only logged.
    """
    try:
        if isinstance(message.channel, discord.DMChannel):
            await message.channel.send(small_print(refusal), allowed_mentions=NO_MENTIONS)
        else:
            await message.author.send(small_print(refusal), allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        log.info("could not tell %s that they are not let in: %s", message.author.id, exc)
