"""Where discord.py connects, and one sentence for whatever kept it from starting."""

from __future__ import annotations

import aiohttp
import discord
import yarl

from adapters.errors import PlatformStartError


def point_discord_at(api_url: str, gateway_url: str) -> None:
    """Send discord.py's REST calls and gateway connection to the configured endpoints.

    discord.py keeps both as class attributes, so this is process-wide: one
    process talks to one Discord (the real one, a proxy, or a test fake).
    """
    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def start_failure_sentence(exc: Exception, api_url: str) -> str | None:
    """One sentence for an error that kept Discord from starting, or None for an unexpected one (a bug)."""
    if isinstance(exc, PlatformStartError):
        return str(exc)
    if isinstance(exc, discord.LoginFailure):
        return (
            "Discord refused the token in DISCORD_TOKEN (401 Unauthorized): copy it again from the "
            "Developer Portal (Bot → Reset Token)."
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return (
            "Discord refused the Message Content intent: turn on Message Content Intent on the Bot page "
            "of the Developer Portal."
        )
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status} {exc.response.reason} at {api_url}; check DISCORD_API_URL."
    if isinstance(exc, discord.ConnectionClosed):
        return f"Discord closed the gateway connection (code {exc.code}) before the bot was ready."
    if isinstance(exc, (OSError, TimeoutError, aiohttp.ClientError, discord.GatewayNotFound)):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"Discord cannot be reached at {api_url} ({reason}); check the network or DISCORD_API_URL."
    return None
