"""Which platform adapters to start, from the settings."""

from __future__ import annotations

from bot.container import Container
from bot.runtime import Service


def build_platform_services(container: Container) -> list[Service]:
    """One service per configured platform."""
    services: list[Service] = []
    return services
