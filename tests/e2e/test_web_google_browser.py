"""Sign in to the web app with Google in a real browser (Debian's chromium under Selenium): the sign-in
page's button, Google's (fake) consent, the callback, and the chat, with no CSP violation on the way.
Skipped like tests/e2e/test_web_app_browser.py without chromium."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.web import WebServer
from bot.webapp.deps import Connections
from core.clock import ManualClock
from core.db.database import Database
from core.google.connection import GoogleConnections
from core.google.drive import DriveClient
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.identity.signin import CALLBACK_PATH
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.e2e.test_web_app_browser import _csp_errors, browser  # noqa: F401
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit, _google_server, google_fake  # noqa: F401
from tests.web_helpers import WebKit, google_people, google_signin

ALLOWED = ["ada@example.org"]


@pytest.fixture
async def served(
    sqlite_template: Path,
    tmp_path: Path,
    model: OpenAIModel,
    google_fake: FakeGoogle,  # noqa: F811
) -> AsyncIterator[tuple[WebKit, WebServer]]:
    shutil.copy(sqlite_template, tmp_path / "google.db")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'google.db'}")
    clock = ManualClock(TEST_NOW)
    chat = make_chat_service(db, model, clock=clock, people=google_people(db, clock, ALLOWED))
    kit = WebKit(db, chat, model, clock, public_url="http://unset")
    server = WebServer(kit.app, host="127.0.0.1", port=0)
    await server.start()
    kit.sessions.public_url = server.url
    google = GoogleKit(db, google_fake, redirect_uri=server.url + CALLBACK_PATH)
    signin = google_signin(kit, google, ALLOWED)
    connections = Connections(
        people=chat.people, linker=AccountLinker(db), profiles=Profiles(db), signin=signin,
        google=GoogleConnections(google.store, google.oauth), drive=DriveClient(google.api),
    )  # fmt: skip
    kit.app.state.webapp = replace(kit.app.state.webapp, connections=connections)
    kit.google = google  # type: ignore[attr-defined]  # the test makes Drive folders with it
    try:
        yield kit, server
    finally:
        await server.stop()
        await db.dispose()


async def test_sign_in_with_google_and_reach_the_chat(
    browser: Any,  # noqa: F811
    served: tuple[WebKit, WebServer],
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    _kit, server = served

    def sign_in() -> tuple[str, bool, list[str]]:
        driver.get(server.url + "/")  # not signed in: the sign-in page
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_elements(By.ID, "google")
        )
        driver.find_element(By.ID, "google").click()  # → Google's (fake) consent → the callback → the chat
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.current_url == server.url + "/chat" and d.find_element(By.ID, "send").is_enabled()
        )
        signed_out = driver.find_elements(By.ID, "signout")
        return (
            driver.find_element(By.TAG_NAME, "h1").get_attribute("textContent"),
            bool(signed_out),
            _csp_errors(driver),
        )

    heading, has_sign_out, csp = await asyncio.to_thread(sign_in)
    assert heading == "Chat" and has_sign_out and csp == []


async def test_connect_google_and_pick_the_drive_folder_on_the_accounts_page(
    browser: Any,  # noqa: F811
    served: tuple[WebKit, WebServer],
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = browser
    kit, server = served

    def sign_in_and_connect() -> str:
        driver.get(server.url + "/signin")
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_elements(By.ID, "google")
        )
        driver.find_element(By.ID, "google").click()
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.current_url == server.url + "/chat"
        )
        driver.get(server.url + "/connections")
        driver.find_element(By.ID, "connect").click()  # → the connect link → Google's consent → the callback
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_element(By.TAG_NAME, "h1").text == "Google is connected"
        )
        return _csp_errors(driver)

    assert await asyncio.to_thread(sign_in_and_connect) == []
    ada, accounts = await AccountLinker(kit.db).owner_accounts("ada@example.org")
    assert ada is not None and [a.platform for a in accounts] == ["google"]
    drive = DriveClient(kit.google.api)  # type: ignore[attr-defined]
    await drive.ensure_folder(ada, folder_id=None, name="Sailing logs")
    races = await drive.ensure_folder(ada, folder_id=None, name="Race results")

    def choose() -> tuple[str, list[str]]:
        driver.get(server.url + "/connections")
        Select(driver.find_element(By.ID, "folder")).select_by_visible_text("Race results")
        driver.find_element(By.ID, "choose-folder").click()
        WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "p.note[role=status]")
        )
        return driver.find_element(By.CSS_SELECTOR, "p.note[role=status]").text, _csp_errors(driver)

    notice, csp = await asyncio.to_thread(choose)
    assert notice.startswith("The Drive folder is chosen") and csp == []
    assert (await Profiles(kit.db).settings(ada))["drive_folder_id"] == races.id
