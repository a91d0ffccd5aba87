"""Steps in a real browser (Selenium) shared by the web app's browser tests: waiting, signing in, the keyboard.

Selenium is imported when a step runs: the browser tests skip, rather than fail to import, without it.
"""

from __future__ import annotations

from typing import Any


def wait(driver: Any, timeout: float = 30) -> Any:
    """A wait that looks again when the page was replaced under it (a form's answer loading)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def sign_in(driver: Any, link: str, server_url: str) -> None:
    """Open a single-use sign-in link, press its button and wait for the chat, loaded and ready to send."""
    from selenium.webdriver.common.by import By

    driver.get(link)
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Sign in"))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(
        lambda d: (
            d.current_url == server_url + "/chat"
            and d.execute_script("return document.readyState") == "complete"
            and d.find_elements(By.ID, "signout")
            and d.find_element(By.ID, "send").is_enabled()
        )
    )


def press(driver: Any, element: Any) -> None:
    """Focus ``element`` and press Enter on it: the keyboard, as a person without a mouse does."""
    from selenium.webdriver.common.keys import Keys

    driver.execute_script("arguments[0].focus()", element)
    element.send_keys(Keys.ENTER)
