"""The settings page built from the settings, served by the one web server (real uvicorn) beside Google sign-in."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from bot.identity_wiring import build_identity, build_web_server
from bot.settings_wiring import build_settings_page
from core.access import AccessPolicy
from core.chat.settings_fields import timezone_field
from core.clock import ManualClock
from core.daily.settings_fields import daily_time_field
from core.db.database import Database
from core.identity.profile import Profiles
from core.identity.settings_fields import drive_folder_field
from core.people import People
from core.settings.registry import SettingsRegistry
from core.types import PlatformIdentity
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import submit
from tests.integration.google.test_wiring import _settings

ADA = PlatformIdentity("test", "w1", "ada", "Ada")


async def test_built_from_settings_the_page_is_served_with_the_google_status(
    database: Database, google_fake: FakeGoogle
) -> None:
    settings = _settings(google_fake, default_timezone="Europe/Berlin", daily_summary_time="21:00")
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    services = build_identity(settings, database, clock=clock)
    assert services.google is not None
    people = People(database, accounts=AccessPolicy(("test:*",)), clock=clock)
    # The fields the container adds, with the defaults of these settings.
    registry, profiles = SettingsRegistry(people), Profiles(database)
    registry.add(timezone_field(people, default=settings.default_timezone))
    registry.add(
        drive_folder_field(profiles, drive=services.google.drive, availability=None, default_folder="CaptainsLog")
    )
    registry.add(daily_time_field(profiles, default_time=settings.daily_summary_time))
    page = build_settings_page(
        settings, database, people, registry, clock=clock, google_status=services.google.connections.status
    )
    assert page is not None
    web = build_web_server(settings, services, settings_page=page)
    await web.start()
    try:
        user = (await people.admit(ADA)).user
        assert user is not None
        link = await page.access.link(ADA, user.id)
        assert link.startswith(settings.public_base_url + "/settings/")
        async with httpx.AsyncClient(timeout=10) as browser:
            button = await browser.get(link)  # only a button: a GET spends nothing
            assert button.status_code == 200 and "Open my settings" in button.text
            opened = await submit(browser, button, "go", "1")  # sets the session cookie, moves on to /settings
            assert opened.status_code == 200 and 'url=/settings"' in opened.text
            shown = await browser.get(settings.public_base_url + "/settings")
    finally:
        await web.stop()
    assert shown.status_code == 200 and str(shown.url).endswith("/settings")
    for text in (
        "Not connected (use /connect google",
        "Europe/Berlin (default)",
        "21:00 (default)",
        "CaptainsLog (default)",
    ):
        assert text in shown.text


async def test_without_a_secret_key_there_is_no_settings_page(database: Database, google_fake: FakeGoogle) -> None:
    settings = _settings(google_fake, secret_key=None, google_client_id="", allowed_emails=[])
    people = People(database, accounts=AccessPolicy(("test:*",)))
    assert build_settings_page(settings, database, people, SettingsRegistry(people)) is None
