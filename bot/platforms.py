"""Which platform adapters to start, from the settings."""

from __future__ import annotations

from bot.container import Container
from bot.runtime import Service


def build_platform_services(container: Container) -> list[Service]:
    """One service per configured platform."""
    settings = container.settings
    services: list[Service] = []
    if settings.discord_configured:
        from adapters.discord import DiscordService

        assert settings.discord_token is not None
        services.append(
            DiscordService(
                token=settings.discord_token.get_secret_value(),
                chat=container.chat,
                commands=container.commands,
                api_url=settings.discord_api_url,
                gateway_url=settings.discord_gateway_url,
                dev_guild=settings.discord_dev_guild,
            )
        )
    if settings.slack_configured:
        from adapters.slack import SlackService

        services.append(SlackService.from_container(container))
    return services
