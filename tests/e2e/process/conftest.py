"""The platform fakes and silent servers of the bot-process tests (tests/process_helpers.py)."""

from tests.process_helpers import discord_fake, silent, silent_endpoint, slack_fake  # noqa: F401
