"""Builds the settings page from the settings (called by the container; on only when SECRET_KEY is set)."""

from __future__ import annotations

from bot.config import Settings
from bot.identity_wiring import token_cipher
from bot.settings_page import SettingsPage
from core.chat.settings_fields import timezone_field
from core.clock import Clock, system_clock
from core.db.database import Database
from core.identity.account import AccountSettings, GoogleStatus
from core.identity.settings_access import SettingsAccess
from core.identity.states import OAuthStateStore
from core.people import People
from core.settings.registry import SettingsRegistry


def build_settings_registry(settings: Settings, people: People) -> SettingsRegistry:
    """The registry with the time zone (the chat service's own setting); the features add their fields as
    they install (identity: the name and the Drive folder; the daily log, voice, link previews)."""
    registry = SettingsRegistry(people)
    registry.add(timezone_field(people, default=settings.default_timezone))
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
