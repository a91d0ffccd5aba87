"""The settings page in a real browser: Debian's chromium, driven by Selenium, against the real uvicorn server.

Skipped only when chromium or chromedriver is missing, and then failed instead under
``CAPTAINSLOG_REQUIRE_BROWSER=1`` (as in .ci/run, which installs them).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.responses import HTMLResponse

from bot.web import WebServer
from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.settings_page_helpers import ADA, SettingsKit

CHROMIUM = os.environ.get("CAPTAINSLOG_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CAPTAINSLOG_CHROMEDRIVER", "/usr/bin/chromedriver")
REQUIRE_BROWSER = os.environ.get("CAPTAINSLOG_REQUIRE_BROWSER") == "1"


def _missing() -> str:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return ""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """A headless chromium under Selenium, or a skip (a failure when the browser is required)."""
    missing = _missing()
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"CAPTAINSLOG_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,1400"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    # One database is enough here: the page's storage is covered on both in tests/integration/test_settings_page.py.
    path = tmp_path / "browser.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db
    await db.dispose()


async def test_open_the_link_change_the_time_zone_and_see_the_confirmation(
    browser: object, sqlite_db: Database, model: OpenAIModel, tmp_path: Path
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    clock = ManualClock(TEST_NOW)
    kit = SettingsKit(sqlite_db, make_chat_service(sqlite_db, model, clock=clock), clock, public_url="http://unset")
    server = WebServer(kit.app, host="127.0.0.1", port=0)
    await server.start()
    try:
        kit.access.public_url = server.url  # the address the browser reaches, known once the port is bound
        link = await kit.link(ADA)
        # The link is clicked in a chat on another site (localhost is not the same site as 127.0.0.1),
        # as from Slack or Discord: a SameSite=Strict cookie must still reach the page after the redirect.
        chat_page = f'<!doctype html><title>chat</title><a id="open" href="{link}">your settings</a>'
        kit.app.add_api_route("/test-chat", lambda: HTMLResponse(chat_page), methods=["GET"])

        def visit() -> tuple[str, str, str]:
            # Selenium blocks: it runs in a thread so the server in this event loop keeps answering.
            driver.get(f"http://localhost:{server.port}/test-chat")  # type: ignore[attr-defined]
            driver.find_element(By.ID, "open").click()  # type: ignore[attr-defined]
            # The link's page is only a button (a link preview's GET spends nothing); pressing it opens the page.
            WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: d.find_element(By.TAG_NAME, "h1").text == "Open your settings"
            )  # type: ignore[arg-type]
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
            WebDriverWait(driver, 20).until(lambda d: d.current_url == server.url + "/settings")  # type: ignore[arg-type]
            driver.back()  # type: ignore[attr-defined]  # back to the link's page: the link is spent now
            WebDriverWait(driver, 20).until(lambda d: "/settings/" in d.current_url)  # type: ignore[arg-type]
            driver.refresh()  # type: ignore[attr-defined]
            spent = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
            driver.get(server.url + "/settings")  # type: ignore[attr-defined]
            return driver.current_url, driver.find_element(By.TAG_NAME, "h1").text, spent  # type: ignore[attr-defined]

        url, heading, spent = await asyncio.to_thread(visit)
        assert url == server.url + "/settings"  # the token left the address bar
        assert heading == "Your settings"
        assert "already used" in spent

        def change_zone() -> tuple[str, str]:
            field = driver.find_element(By.ID, "timezone")  # type: ignore[attr-defined]
            field.clear()
            field.send_keys("Asia/Tokyo")
            # The form is generated from the settings registry: its switches are selects.
            Select(driver.find_element(By.ID, "voice")).select_by_visible_text("On")  # type: ignore[attr-defined]
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
            driver.save_screenshot(str(tmp_path / "settings-saved.png"))  # type: ignore[attr-defined]
            shown = driver.find_element(By.ID, "timezone").get_attribute("value")  # type: ignore[attr-defined]
            return driver.find_element(By.CSS_SELECTOR, "[role=status]").text, shown  # type: ignore[attr-defined]

        confirmation, shown = await asyncio.to_thread(change_zone)
        assert "Saved." in confirmation and "Time zone set to Asia/Tokyo." in confirmation
        assert "I'll send every answer also as speech." in confirmation
        assert shown == "Asia/Tokyo"
        assert (tmp_path / "settings-saved.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        user = (await kit.chat.people.admit(ADA)).user
        assert user is not None and user.timezone == "Asia/Tokyo" and user.settings["voice"] == "on"

        def reopen_link() -> str:
            driver.get(link)  # type: ignore[attr-defined]
            return driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]

        assert "already used" in await asyncio.to_thread(reopen_link)

        def sign_out() -> tuple[str, str]:
            driver.get(server.url + "/settings")  # type: ignore[attr-defined]
            driver.find_element(By.ID, "signout").click()  # type: ignore[attr-defined]
            # The old page's h1 can go stale while the POST's answer loads: look again rather than fail.
            WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: d.find_element(By.TAG_NAME, "h1").text == "Signed out"  # type: ignore[arg-type]
            )
            driver.get(server.url + "/settings")  # type: ignore[attr-defined]
            return "Signed out", driver.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]

        _, after = await asyncio.to_thread(sign_out)
        assert after == "Session ended"
    finally:
        await server.stop()
