"""The sign-in confirmation and the /connect question in a real browser (Debian's chromium under Selenium):
cookies set at the end of Google's redirect chain come back with the page's own form, and the CSP lets the
form's answer go on to Google's consent. Skipped like tests/e2e/test_settings_browser.py without chromium."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.test_settings_browser import browser  # noqa: F401
from tests.google_helpers import _google_server, google_fake  # noqa: F401
from tests.integration.google.test_signin import _email_less_user
from tests.signin_site import DISCORD, Site, linked, site  # noqa: F401

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_confirm_a_sign_in_then_connect_google_without_a_verified_email(
    browser: object,  # noqa: F811
    site: Site,  # noqa: F811
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    link = await site.signin.start(DISCORD)

    def heading() -> str:
        return str(driver.find_element(By.TAG_NAME, "h1").text)  # type: ignore[attr-defined]

    def wait_for(check: object) -> None:
        # The page may be replaced between finding the heading and reading it (a redirect lands): read again.
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(check)  # type: ignore[arg-type]

    def sign_in() -> tuple[str, str, str]:
        driver.get(link)  # type: ignore[attr-defined]  # → Google's (fake) consent → back to the callback
        wait_for(lambda d: heading() == "Confirm the link")
        question = driver.find_element(By.TAG_NAME, "strong").text  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "button[value=link]").click()  # type: ignore[attr-defined]
        wait_for(lambda d: heading() != "Confirm the link")
        return question, heading(), driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]

    question, title, body = await asyncio.to_thread(sign_in)
    assert question == "Link Discord user ada#1 (111) to ada@example.org?"
    assert title == "Linked" and "You're in, signed in as ada@example.org." in body
    assert await linked(site.db) == [("discord", "111", "ada@example.org")]

    # Another account, let in without signing in (ALLOWED_ACCOUNTS), connects Google: the page asks first.
    from core.types import PlatformIdentity

    owner = PlatformIdentity("slack", "T9", "U9", "owner")
    user_id = await _email_less_user(site.db, owner)
    connect = await site.signin.start_connect(owner, user_id)

    def connect_google() -> tuple[str, str]:
        driver.get(connect)  # type: ignore[attr-defined]
        wait_for(lambda d: heading() == "Connect Google")
        driver.find_element(By.CSS_SELECTOR, "button[value=go]").click()  # type: ignore[attr-defined]
        wait_for(lambda d: heading() != "Connect Google")
        return heading(), driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]

    title, body = await asyncio.to_thread(connect_google)
    assert title == "Google is connected", body
    assert await site.kit.store.load(user_id) is not None
