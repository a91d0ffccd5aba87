"""Builds the settings page from the settings (called by the container; on only when SECRET_KEY is set)."""

from __future__ import annotations

from bot.config import Settings
from bot.identity_wiring import GoogleServices, token_cipher
from bot.settings_page import SettingsPage
from core.chat.settings_fields import timezone_field
from core.clock import Clock, system_clock
from core.db.database import Database
from core.google.availability import GoogleAvailability
from core.identity.account import AccountSettings, GoogleStatus
from core.identity.profile import Profiles
from core.identity.settings_access import SettingsAccess
from core.identity.settings_fields import drive_folder_field, name_field
from core.identity.states import OAuthStateStore
from core.people import People
from core.settings.registry import SettingsRegistry


def build_settings_registry(
    settings: Settings,
    people: People,
    profiles: Profiles,
    *,
    google: GoogleServices | None,
    availability: GoogleAvailability | None,
) -> SettingsRegistry:
    """The registry with the time zone, the name and the Drive folder (unavailable without ``google``); the
    other features add their fields as they are built."""
    registry = SettingsRegistry(people)
    registry.add(timezone_field(people, default=settings.default_timezone))
    registry.add(name_field(profiles))
    drive = google.drive if google is not None else None
    registry.add(
        drive_folder_field(profiles, drive=drive, availability=availability, default_folder=settings.assistant_name)
    )
    return registry


def build_settings_page(
    settings: Settings,
    db: Database,
    people: People,
    registry: SettingsRegistry,
    *,
    clock: Clock = system_clock,
    google_status: GoogleStatus | None = None,
) -> SettingsPage | None:
    """The page's services, or None without SECRET_KEY (it signs the sessions and encrypts the link's row).

    The form shows the fields of ``registry``. ``google_status`` is ``GoogleConnections.status`` when Google is
    configured. Links start with PUBLIC_URL."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value():
        return None
    access = SettingsAccess(
        states=OAuthStateStore(db, token_cipher(settings), clock=clock),
        people=people,
        secret_key=settings.secret_key.get_secret_value(),
        public_url=settings.public_base_url,
        clock=clock,
    )
    account = AccountSettings(people=people, registry=registry, google_status=google_status)
    return SettingsPage(access, account, assistant_name=settings.assistant_name)
