"""Discord: direct messages, threads opened by a mention, slash commands (discord.py)."""

from adapters.discord.service import DiscordService

__all__ = ["DiscordService"]
