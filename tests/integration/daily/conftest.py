"""The Google fake fixtures for the daily-log tests, and the restart tests' Discord fake and bot client."""

from tests.daily_kill_helpers import bot_client, fake_discord, restart  # noqa: F401
from tests.google_helpers import _google_server, google_fake  # noqa: F401
