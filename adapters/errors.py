"""Errors a platform adapter reports to the process as one sentence."""

from __future__ import annotations


class PlatformStartError(Exception):
    """A platform cannot start: it refused a credential, or it cannot be reached.

    The message is one sentence for the person running the bot, naming the
    setting to fix (``DISCORD_TOKEN``, ``SLACK_BOT_TOKEN`` ...) and never its
    value.  The runtime logs it without a traceback, leaves that platform
    stopped and keeps the others running; it is never retried.
    """


class PlatformUnreachable(PlatformStartError):
    """The platform did not answer (network, DNS, wrong URL): nothing is known about the credentials yet."""
