"""Every page of the web app at a phone's 390 × 844 in a real browser (Debian's chromium under Selenium):
nothing wider than the screen, so no page scrolls sideways (the API page's long paths included).
Skipped like tests/e2e/test_web_app_browser.py without chromium."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.web import WebServer
from bot.webapp.deps import web_place
from core.reminders.times import Schedule
from tests.browser_helpers import sign_in
from tests.e2e.test_web_app_browser import PAGES as APP_PAGES
from tests.e2e.test_web_app_browser import browser, served  # noqa: F401
from tests.web_helpers import ADA, WebKit

PAGES = [*APP_PAGES, "/settings"]
# The elements sticking out past the right edge of the window (what makes a page scroll sideways).
WIDER = """
const width = document.documentElement.clientWidth;
return [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > width + 1)
  .map(el => el.outerHTML.slice(0, 120));
"""


async def test_no_page_scrolls_sideways_at_390_px(
    browser: Any,  # noqa: F811
    served: tuple[WebKit, WebServer],  # noqa: F811
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    kit, server = served
    ada = await kit.user_id(ADA)
    await kit.memory.store.remember(ada, "Ada sails on Sundays")
    await kit.chat.history(web_place(ada))
    await kit.reminders.create(user_id=ada, text="call Ana about the long sailing trip to the islands",
                               schedule=Schedule(datetime(2026, 11, 27, 10), ZoneInfo("Europe/Lisbon")), platform="discord")  # fmt: skip
    link = await kit.sessions.link(ADA)

    def look() -> dict[str, tuple[int, list[str]]]:
        driver.set_window_size(390, 844)
        sign_in(driver, link, server.url)
        found = {}
        for page in PAGES:
            driver.get(server.url + page)
            WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
            extra = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            found[page] = (max(0, int(extra)), driver.execute_script(WIDER) if extra > 0 else [])
        return found

    found = await asyncio.to_thread(look)
    assert found == dict.fromkeys(PAGES, (0, [])), found
