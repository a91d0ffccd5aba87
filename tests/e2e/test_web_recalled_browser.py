"""In a real browser (Debian's chromium, Selenium, the real uvicorn server): the memories recalled for an
answer show under it as soon as it completes, without a reload, as a reload shows them; the live region
says the answer once; no CSP violation. Skipped only when chromium or chromedriver is missing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.web import WebServer
from tests.browser_helpers import sign_in
from tests.e2e.test_web_app_browser import _csp_errors, browser, served  # noqa: F401
from tests.fakes.openai_server import FakeOpenAI, Reply, topic_embedding
from tests.web_helpers import ADA, WebKit

BOAT = "Ada keeps her boat moored in Brest harbour"
TEA = "Ada's favourite tea is lapsang souchong"
ANSWER = "In **Brest**, by the harbour."
# Marks this page (a reload would lose it) and counts what the live region says.
WATCH = """
window.__samePage = true;
window.__said = [];
const announce = document.getElementById('announce');
new MutationObserver(() => { if (announce.textContent) window.__said.push(announce.textContent); })
  .observe(announce, {subtree: true, childList: true, characterData: true});
"""


async def test_the_memories_recalled_for_an_answer_show_under_it_without_a_reload(
    browser: Any,  # noqa: F811
    served: tuple[WebKit, WebServer],  # noqa: F811
    openai_fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    kit, server = served
    openai_fake.embedder = topic_embedding
    ada = await kit.user_id(ADA)
    for fact in (BOAT, TEA):
        await kit.memory.store.remember(ada, fact)
    link = await kit.sessions.link(ADA)
    openai_fake.queue(Reply(ANSWER, delay=0.02))

    def chat() -> dict[str, Any]:
        sign_in(driver, link, server.url)
        driver.execute_script(WATCH)
        field = driver.find_element(By.ID, "text")
        field.send_keys("Where is my boat moored?")
        field.send_keys(Keys.ENTER)
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant.complete"))
        answer = driver.find_element(By.CSS_SELECTOR, ".msg.assistant.complete")
        summary = answer.find_element(By.CSS_SELECTOR, "details.shaped summary")
        summary.send_keys(Keys.ENTER)  # opened by the keyboard, like any disclosure
        WebDriverWait(driver, 10).until(
            lambda d: answer.find_element(By.CSS_SELECTOR, "details.shaped li").is_displayed()
        )
        driver.save_screenshot(str(tmp_path / "recalled-live-1280x800.png"))
        return {
            "same_page": driver.execute_script("return window.__samePage === true"),
            "summary": summary.text,
            "items": [li.text for li in answer.find_elements(By.CSS_SELECTOR, "details.shaped li")],
            "body": answer.find_element(By.CSS_SELECTOR, ".body").get_attribute("innerHTML"),
            "said": driver.execute_script("return window.__said"),
            "csp": _csp_errors(driver),
        }

    live = await asyncio.to_thread(chat)
    assert live["same_page"], "shown without a reload"
    assert live["summary"] == "Memories that shaped this answer (1)"
    assert live["items"] == [f"{BOAT} (noted 2026-11-24)"]  # the boat, not the tea
    assert "<strong>Brest</strong>" in live["body"]
    assert live["said"] == ["Answer: In Brest, by the harbour."], "the live region says the answer once, only it"
    assert live["csp"] == []
    await kit.chat.tasks.wait_idle()  # the list is recorded after the answer (what a reload reads)

    def reload() -> list[str]:
        driver.refresh()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant details.shaped"))
        shown = driver.find_element(By.CSS_SELECTOR, ".msg.assistant details.shaped")
        shown.find_element(By.TAG_NAME, "summary").click()
        return [li.text for li in shown.find_elements(By.TAG_NAME, "li")]

    assert await asyncio.to_thread(reload) == live["items"], "the same list as the server-rendered page"
