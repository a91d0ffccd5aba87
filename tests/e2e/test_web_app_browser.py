"""The web app in a real browser: Debian's chromium, driven by Selenium, against the real uvicorn server.

Sign in with a link, send a message, watch the answer arrive in several steps, reload and
see it once; keyboard-reachable labelled controls; no CSP violation; phone and desktop
screenshots (kept under the test's tmp_path) in light and dark mode.
Skipped only when chromium or chromedriver is missing (failed under CAPTAINSLOG_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.web import WebServer
from bot.webapp.deps import web_place
from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from core.reminders.times import Schedule
from tests.browser_helpers import sign_in
from tests.conftest import TEST_NOW, make_chat_service
from tests.e2e.test_settings_browser import CHROMEDRIVER, CHROMIUM, REQUIRE_BROWSER, _missing
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.web_helpers import ADA, WebKit

# The app's pages with what Ada has in them (the settings page is audited after a save, in test_web_flows_browser.py).
PAGES = ["/chat", "/timeline", "/search?q=sails", "/memories", "/daily", "/reminders", "/tokens", "/docs", "/signin"]
ANSWER = "Fair winds today: **light breeze** from the west, then calm seas by evening."
# Every control a person uses must have a name a screen reader can say (a label, aria-label or text).
UNNAMED = """
return [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
  .map(el => el.outerHTML);
"""
WATCH = """
window.__steps = [];
const log = document.getElementById('log');
new MutationObserver(() => {
  const bodies = log.querySelectorAll('.msg.assistant .body');
  if (bodies.length) window.__steps.push(bodies[bodies.length - 1].textContent);
}).observe(log, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    missing = _missing()
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"CAPTAINSLOG_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def served(sqlite_template: Path, tmp_path: Path, model: OpenAIModel) -> AsyncIterator[tuple[WebKit, WebServer]]:
    # One database is enough here: the app's storage is covered on both in tests/integration/test_web_app.py.
    shutil.copy(sqlite_template, tmp_path / "browser.db")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}")
    clock = ManualClock(TEST_NOW)
    kit = WebKit(db, make_chat_service(db, model, clock=clock), model, clock, public_url="http://unset")
    server = WebServer(kit.app, host="127.0.0.1", port=0)
    await server.start()
    kit.sessions.public_url = server.url
    try:
        yield kit, server
    finally:
        await server.stop()
        await db.dispose()


def _csp_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


async def test_sign_in_chat_watch_the_answer_stream_reload_and_see_it_once(
    browser: Any, served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    kit, server = served
    link = await kit.sessions.link(ADA)
    openai_fake.queue(Reply(ANSWER, delay=0.05))

    def sign_in_and_chat() -> tuple[list[str], str, str]:
        sign_in(driver, link, server.url)
        driver.execute_script(WATCH)
        field = driver.find_element(By.ID, "text")
        field.send_keys("What's the weather for sailing?")
        field.send_keys(Keys.ENTER)  # Enter sends
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.complete"))
        steps = driver.execute_script("return window.__steps")
        shown = driver.find_element(By.CSS_SELECTOR, ".msg.assistant .body").get_attribute("innerHTML")
        announced = driver.find_element(By.ID, "announce").text
        return steps, shown, announced

    steps, shown, announced = await asyncio.to_thread(sign_in_and_chat)
    growing = [s for s in dict.fromkeys(steps) if s]
    assert len(growing) >= 3, growing  # the answer arrived in several steps
    assert all(ANSWER.startswith(s) for s in growing[:-1])
    assert "<strong>light breeze</strong>" in shown  # the final Markdown, rendered by the server
    assert announced.startswith("Answer: Fair winds today")  # the live region says it once, at the end

    def reload_and_look() -> tuple[int, list[str], list[str]]:
        driver.refresh()
        WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant") and d.find_element(By.ID, "send").is_enabled()
        )
        count = driver.page_source.count("light breeze")
        return count, driver.execute_script(UNNAMED), _csp_errors(driver)

    count, unnamed, csp = await asyncio.to_thread(reload_and_look)
    assert count == 1 and unnamed == [] and csp == []

    def keyboard_walk() -> list[str]:
        """Tab from the top of the page: the ids and texts of what gets the focus."""
        driver.find_element(By.TAG_NAME, "body").click()
        reached = []
        for _ in range(16):
            ActionChains(driver).send_keys(
                Keys.TAB
            ).perform()  # the keyboard, not an element (a file input takes keys as a path)
            el = driver.switch_to.active_element
            reached.append(el.get_attribute("id") or el.text)
        return reached

    reached = await asyncio.to_thread(keyboard_walk)
    for control in ("Chat", "Timeline", "Search", "Memories", "signout", "text", "images", "send"):
        assert control in reached, reached

    def screenshots() -> dict[str, Any]:
        found = {}
        for scheme in ("light", "dark"):
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
            )
            for width, height in ((390, 844), (1280, 800)):
                driver.set_window_size(width, height)
                for page in ("chat", "timeline"):
                    driver.get(f"{server.url}/{page}")
                    name = tmp_path / f"{page}-{width}x{height}-{scheme}.png"
                    driver.save_screenshot(str(name))
                    found[name.name] = {
                        "png": name.read_bytes()[:8],
                        "overflow": driver.execute_script(
                            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
                        ),
                        "background": driver.execute_script("return getComputedStyle(document.body).backgroundColor"),
                    }
        return found

    shots = await asyncio.to_thread(screenshots)
    assert len(shots) == 8 and all(s["png"] == b"\x89PNG\r\n\x1a\n" for s in shots.values())
    assert not any(s["overflow"] for s in shots.values()), "no sideways scrolling, also at 390 px"
    assert shots["chat-390x844-light.png"]["background"] != shots["chat-390x844-dark.png"]["background"]


async def test_reload_mid_answer_finishes_it_once_and_stop_stops_the_next(
    browser: Any, served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    kit, server = served
    link = await kit.sessions.link(ADA)
    slow = "Counting slowly: one, two, three, four, five, six, seven, eight, nine, ten, done counting."
    openai_fake.queue(Reply(slow, delay=0.08))

    def reload_mid_answer() -> tuple[int, str]:
        sign_in(driver, link, server.url)
        driver.find_element(By.ID, "text").send_keys("count to ten")
        driver.find_element(By.ID, "send").click()
        WebDriverWait(driver, 20).until(
            lambda d: "two" in "".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".msg.assistant .body"))
        )
        driver.refresh()  # mid-answer
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.complete"))
        bodies = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".msg.assistant .body")]
        return len(bodies), bodies[-1]

    count, final = await asyncio.to_thread(reload_mid_answer)
    assert count == 1 and final == slow.replace("  ", " ")

    openai_fake.queue(Reply("A story that goes on and on and on and never seems to end at all.", delay=0.3))

    def stop_it() -> tuple[bool, bool]:
        driver.find_element(By.ID, "text").send_keys("tell me a story")
        driver.find_element(By.ID, "send").click()
        stop = driver.find_element(By.ID, "stop")
        WebDriverWait(driver, 20).until(
            lambda d: stop.is_displayed() and d.find_elements(By.CSS_SELECTOR, ".msg.assistant .body")
        )
        WebDriverWait(driver, 20).until(
            lambda d: "story" in d.find_elements(By.CSS_SELECTOR, ".msg.assistant .body")[-1].text
        )
        stop.click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.stopped"))
        return stop.is_displayed(), driver.find_element(By.ID, "send").is_enabled()

    stop_shown, send_enabled = await asyncio.to_thread(stop_it)
    assert not stop_shown and send_enabled
    history = await kit.chat.history(web_place(await kit.user_id(ADA)))
    assert history[-1].status == "partial" and "never seems to end" not in history[-1].content


def _axe_script() -> str:
    """axe-core, as shipped by the axe-selenium-python package (the test extra)."""
    axe = pytest.importorskip("axe_selenium_python")
    return (Path(axe.__file__).parent / "node_modules" / "axe-core" / "axe.min.js").read_text()


async def test_every_page_passes_axe_without_serious_violations(
    browser: Any, served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI
) -> None:

    driver = browser
    kit, server = served
    source = _axe_script()
    ada = await kit.user_id(ADA)
    await kit.memory.store.remember(ada, "Ada sails on Sundays")
    await kit.tokens.create(ada, ADA, "laptop")
    await kit.reminders.create(
        user_id=ada,
        text="call Ana",
        schedule=Schedule(datetime(2026, 11, 27, 10), ZoneInfo("Europe/Lisbon"), "FREQ=WEEKLY;BYDAY=FR"),
        platform="web",
    )
    openai_fake.queue(Reply("Hello **there**."))
    await kit.chat.history(web_place(ada))
    link = await kit.sessions.link(ADA)

    def audit() -> dict[str, list[str]]:
        sign_in(driver, link, server.url)
        found = {}
        for scheme in ("light", "dark"):
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
            )
            for page in PAGES:
                driver.get(server.url + page)
                driver.execute_script(source)  # injected by the driver: the page's CSP still forbids inline script
                result = driver.execute_async_script(
                    "const done = arguments[arguments.length - 1]; axe.run().then(done, e => done({error: String(e)}));"
                )
                assert "error" not in result, result
                found[f"{page} ({scheme})"] = [
                    f"{v['id']}: {v['help']} {[(n['target'], n.get('failureSummary')) for n in v['nodes']]}"
                    for v in result["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
        return found

    found = await asyncio.to_thread(audit)
    assert found == dict.fromkeys(found, []), found


async def test_attach_an_image_in_the_browser(
    browser: Any, served: tuple[WebKit, WebServer], openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.fakes.openai_server import PNG_BYTES
    from tests.web_helpers import add_vision

    driver = browser
    kit, server = served
    vision_model = add_vision(kit, openai_fake.base_url)
    photo = tmp_path / "plant.png"
    photo.write_bytes(PNG_BYTES)
    openai_fake.queue(Reply("A young monstera with split leaves."), Reply("It's a **monstera**."))
    link = await kit.sessions.link(ADA)

    def send_photo() -> str:
        sign_in(driver, link, server.url)
        driver.find_element(By.ID, "images").send_keys(str(photo))
        driver.find_element(By.ID, "text").send_keys("what plant is this?")
        driver.find_element(By.ID, "send").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.complete"))
        return driver.find_element(By.CSS_SELECTOR, ".msg.assistant .body").get_attribute("innerHTML")

    try:
        shown = await asyncio.to_thread(send_photo)
    finally:
        await vision_model.close()
    assert "<strong>monstera</strong>" in shown
    looked = [r for r in openai_fake.chat_requests() if r.get("model") == "vision-test"]
    assert len(looked) == 1 and "data:image/" in str(looked[0]["messages"])
