"""Which platform adapters to start, from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.container import Container
from bot.runtime import Service
from bot.web import mount_slack
from core.chat import ChatService
from core.commands import CommandSet
from core.messenger import Outbox

if TYPE_CHECKING:
    from adapters.slack import SlackService


def build_platform_services(container: Container, *, outbox: Outbox | None = None) -> list[Service]:
    """One service per configured platform; each registers its messenger with ``outbox`` (by default the
    container's) once connected."""
    settings = container.settings
    outbox = outbox if outbox is not None else container.outbox
    services: list[Service] = []
    gate = container.gate
    web = container.web_services()
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
                outbox=outbox,
                gate=gate,
                previews=container.previews.wanted if container.previews is not None else None,
            )
        )
    if settings.slack_configured:
        if web and settings.slack_mode == "http":
            # One web server: Slack's events go to /slack/events on the bot's server, not a second one.
            service = slack_service(
                settings, chat=container.chat, commands=container.commands, outbox=outbox, serve_http=False, gate=gate
            )
            mount_slack(web[0].app, service.endpoint)
            services.append(service)
        else:
            services.append(
                slack_service(settings, chat=container.chat, commands=container.commands, outbox=outbox, gate=gate)
            )
    return services


def slack_service(settings: Settings, *, chat: ChatService, commands: CommandSet, **options: Any) -> SlackService:
    """The Slack service with its arguments read from the settings (``options`` add or override them)."""
    from adapters.slack import SlackService

    def secret(value: Any) -> str:
        return value.get_secret_value() if value is not None else ""

    arguments: dict[str, Any] = {
        "bot_token": secret(settings.slack_bot_token),
        "app_token": secret(settings.slack_app_token),
        "signing_secret": secret(settings.slack_signing_secret),
        "mode": settings.slack_mode,
        "api_url": settings.slack_api_url,
        "native_streaming": settings.slack_native_streaming,
        "assistant_status": settings.slack_assistant_status,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
    }
    arguments.update(options)
    return SlackService(chat=chat, commands=commands, **arguments)
