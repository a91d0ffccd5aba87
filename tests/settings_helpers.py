"""The settings registry with every field, in the container's order (for tests that wire pieces by hand)."""

from __future__ import annotations

from collections.abc import Sequence

from core.chat import ChatService
from core.chat.settings_fields import timezone_field
from core.daily.settings_fields import daily_platform_field, daily_time_field
from core.google.availability import GoogleAvailability
from core.google.drive import DriveClient
from core.identity.profile import Profiles
from core.identity.settings_fields import drive_folder_field, name_field
from core.link_previews import previews_field
from core.media.settings_fields import voice_field
from core.settings.registry import SettingsRegistry


def every_setting(
    chat: ChatService,
    profiles: Profiles,
    *,
    default_time: str = "22:30",
    platforms: Sequence[str] = ("discord", "slack"),
    drive: DriveClient | None = None,
    availability: GoogleAvailability | None = None,
    default_folder: str = "CaptainsLog",
) -> SettingsRegistry:
    """A registry holding every setting the container adds, in the same order (``chat``'s people and default zone)."""
    registry = SettingsRegistry(chat.people)
    for setting in (
        timezone_field(chat.people, default=chat.default_timezone),
        name_field(profiles),
        drive_folder_field(profiles, drive=drive, availability=availability, default_folder=default_folder),
        daily_time_field(profiles, default_time=default_time),
        daily_platform_field(profiles, platforms=platforms),
        voice_field(profiles),
        previews_field(profiles),
    ):
        registry.add(setting)
    return registry
