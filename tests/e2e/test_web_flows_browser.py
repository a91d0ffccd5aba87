"""The web app's everyday flows in a real browser (Debian's chromium under Selenium, the real uvicorn server):
find a message written on Discord through search and jump to it in the timeline; edit and delete a memory;
change the time zone in the settings form and see the app's times follow it; download a day's PDF.
Every step waits on what the page shows (never a sleep). Skipped like tests/e2e/test_web_app_browser.py
without chromium (failed instead under CAPTAINSLOG_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update

from bot.web import WebServer
from core.db.models import Message
from tests.browser_helpers import press, sign_in, wait
from tests.conftest import TEST_NOW
from tests.e2e.test_web_app_browser import _axe_script, _csp_errors, browser, served  # noqa: F401
from tests.memory_helpers import add_conversation, add_message
from tests.web_helpers import ADA, BOB, PDF, WebKit

DISCORD_NOTE = "The mooring fee in Brest harbour went up to forty euros"
OTHER_NOTES = [
    ("slack", "Bought a new jib for the dinghy at the chandlery"),
    ("terminal", "Remember to check the bilge pump before Sunday"),
    ("web", "What is the forecast for the Iroise sea?"),
]
IN_VIEW = """
const r = arguments[0].getBoundingClientRect();
return r.top >= 0 && r.bottom <= (window.innerHeight || document.documentElement.clientHeight);
"""


@pytest.fixture
async def ada_app(
    browser: Any,  # noqa: F811
    served: tuple[WebKit, WebServer],  # noqa: F811
) -> tuple[Any, WebKit, WebServer, int]:
    """The browser, the app it visits, and Ada's user id."""
    kit, server = served
    return browser, kit, server, await kit.user_id(ADA)


async def test_find_a_discord_message_through_search_and_jump_to_it_in_the_timeline(
    ada_app: tuple[Any, WebKit, WebServer, int],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, kit, server, ada = ada_app
    earlier = await add_conversation(kit.db, ada, "slack", "c-earlier", TEST_NOW - timedelta(days=3))
    ids = [await add_message(kit.db, earlier, "user", "Sanded the tiller", TEST_NOW - timedelta(days=3), ada)]
    discord = await add_conversation(kit.db, ada, "discord", "c-harbour", TEST_NOW - timedelta(days=2))
    target = await add_message(kit.db, discord, "user", DISCORD_NOTE, TEST_NOW - timedelta(days=2), ada)
    async with kit.db.engine.begin() as conn:  # as the Discord adapter stores it: the message's own id
        await conn.execute(update(Message).where(Message.id == target).values(platform_message_id="5550001"))
    ids.append(target)
    # Newer messages on the other platforms, enough to push the Discord one off the timeline's first page.
    for n in range(60):
        platform, note = OTHER_NOTES[n % len(OTHER_NOTES)]
        conversation = await add_conversation(kit.db, ada, platform, f"c-{platform}-{n}", TEST_NOW)
        ids.append(
            await add_message(kit.db, conversation, "user", f"{note} ({n})", TEST_NOW + timedelta(minutes=n), ada)
        )
    await kit.memory.store.index_messages(ada, ids)
    link = await kit.sessions.link(ADA)

    def search_and_jump() -> dict[str, Any]:
        sign_in(driver, link, server.url)
        driver.find_element(By.LINK_TEXT, "Search").click()
        wait(driver).until(lambda d: d.find_elements(By.ID, "q"))
        field = driver.find_element(By.ID, "q")
        field.send_keys("mooring fee Brest")
        field.send_keys(Keys.ENTER)
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.hits li"))
        hit = driver.find_elements(By.CSS_SELECTOR, "ol.hits li")[0]
        found = {
            "tag": hit.find_element(By.CSS_SELECTOR, ".tag").text,
            "body": hit.find_element(By.CSS_SELECTOR, ".body").text,
            "marked": [m.text for m in hit.find_elements(By.TAG_NAME, "mark")],
        }
        driver.save_screenshot(str(tmp_path / "search-1280x800.png"))
        press(driver, hit.find_element(By.LINK_TEXT, "Show in the timeline"))
        wait(driver).until(lambda d: "/timeline" in d.current_url and d.find_elements(By.ID, f"m{target}"))
        entry = driver.find_element(By.ID, f"m{target}")
        wait(driver).until(lambda d: d.execute_script(IN_VIEW, entry))
        driver.save_screenshot(str(tmp_path / "timeline-jump-1280x800.png"))
        other = driver.find_elements(By.CSS_SELECTOR, f"ol.timeline li.entry:not(#m{target})")
        found.update(
            target=driver.execute_script("const t = document.querySelector(':target'); return t && t.id"),
            target_style=driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", entry),
            other_style=driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", other[0])
            if other
            else None,
            entry_tag=entry.find_element(By.CSS_SELECTOR, ".tag").text,
            entry_body=entry.find_element(By.CSS_SELECTOR, ".body").text,
            back=entry.find_element(By.PARTIAL_LINK_TEXT, "open on Discord").get_attribute("href"),
            newer=bool(driver.find_elements(By.LINK_TEXT, "Newer messages")),
            csp=_csp_errors(driver),
        )
        return found

    found = await asyncio.to_thread(search_and_jump)
    assert found["tag"] == "Discord" and found["body"] == DISCORD_NOTE
    assert {"mooring", "fee", "Brest"} <= set(found["marked"])  # the query's words highlighted
    assert found["target"] == f"m{target}", "the timeline opens at the message, marked as the target"
    assert found["target_style"] != "none" and found["other_style"] == "none", "the hit stands out from the rest"
    assert found["entry_tag"] == "Discord" and found["entry_body"] == DISCORD_NOTE
    assert found["back"] == "https://discord.com/channels/w/c-harbour/5550001"
    assert found["newer"], "what was said after the hit is one link away"
    assert found["csp"] == []


async def test_edit_a_memory_in_place_and_delete_another_then_reload(
    ada_app: tuple[Any, WebKit, WebServer, int],
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, kit, server, ada = ada_app
    tea = await kit.memory.store.remember(ada, "Ada's favourite tea is lapsang souchong")
    boat = await kit.memory.store.remember(ada, "Ada keeps her boat in Brest")
    link = await kit.sessions.link(ADA)

    def edit_and_delete() -> dict[str, Any]:
        sign_in(driver, link, server.url)
        driver.find_element(By.LINK_TEXT, "Memories").click()
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.memories li"))
        field = driver.find_element(By.ID, f"memory-text-{boat.memory.id}")
        field.clear()
        field.send_keys("Ada keeps her boat in Camaret now")
        field.send_keys(Keys.ENTER)  # Enter in the field saves it, as in any form
        wait(driver).until(lambda d: "Memory saved." in d.find_element(By.CSS_SELECTOR, "[role=status]").text)
        texts = [
            e.get_attribute("value") for e in driver.find_elements(By.CSS_SELECTOR, "ul.memories input[type=text]")
        ]
        delete = driver.find_element(
            By.CSS_SELECTOR, "button[aria-label='Delete the memory: Ada\\'s favourite tea is lapsang souchong']"
        )
        press(driver, delete)
        wait(driver).until(lambda d: "Memory deleted." in d.find_element(By.CSS_SELECTOR, "[role=status]").text)
        driver.refresh()
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Memories")
        after = [
            e.get_attribute("value") for e in driver.find_elements(By.CSS_SELECTOR, "ul.memories input[type=text]")
        ]
        return {"edited": texts, "after": after, "page": driver.page_source, "csp": _csp_errors(driver)}

    shown = await asyncio.to_thread(edit_and_delete)
    assert (
        "Ada keeps her boat in Camaret now" in shown["edited"] and "Ada keeps her boat in Brest" not in shown["edited"]
    )
    assert shown["after"] == ["Ada keeps her boat in Camaret now"]
    assert "lapsang" not in shown["page"] and shown["csp"] == []
    stored = await kit.memory.store.list_memories(ada)
    assert [m.text for m in stored] == ["Ada keeps her boat in Camaret now"]
    assert tea.memory.id not in {m.id for m in stored}


async def test_change_the_time_zone_in_the_settings_form_and_see_the_apps_times_follow(
    ada_app: tuple[Any, WebKit, WebServer, int],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    driver, kit, server, ada = ada_app
    conversation = await add_conversation(kit.db, ada, "discord", "c-zone", TEST_NOW)
    axe = _axe_script()
    noon = await add_message(kit.db, conversation, "user", "Lunch on the pontoon", TEST_NOW, ada)  # at 12:00 UTC
    link = await kit.sessions.link(ADA)

    def change_zone() -> dict[str, Any]:
        sign_in(driver, link, server.url)
        driver.get(server.url + "/timeline")
        before = driver.find_element(By.CSS_SELECTOR, f"#m{noon} time").text
        press(driver, driver.find_element(By.LINK_TEXT, "Settings"))
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Your settings")
        field = driver.find_element(By.ID, "timezone")
        field.clear()
        field.send_keys("Asia/Tokyo")
        press(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/settings'] button[type=submit]"))
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".note[role=status]"))
        saved = driver.find_element(By.CSS_SELECTOR, ".note[role=status]").text
        driver.save_screenshot(str(tmp_path / "settings-in-app-1280x800.png"))
        driver.execute_script(axe)  # injected by the driver: the page's CSP forbids any script of its own
        audit = driver.execute_async_script(
            "const done = arguments[arguments.length - 1]; axe.run().then(done, e => done({error: String(e)}));"
        )
        driver.get(server.url + "/settings")  # opened again: what is stored
        shown = driver.find_element(By.ID, "timezone").get_attribute("value")
        back = driver.find_elements(By.LINK_TEXT, "Timeline")
        if back:
            press(driver, back[0])
        else:
            driver.get(server.url + "/timeline")
        wait(driver).until(lambda d: d.find_elements(By.ID, f"m{noon}"))
        after = driver.find_element(By.CSS_SELECTOR, f"#m{noon} time").text
        serious = [v["id"] for v in audit.get("violations", []) if v["impact"] in ("serious", "critical")]
        return {"before": before, "saved": saved, "shown": shown, "nav": bool(back), "after": after,
                "axe": audit.get("error") or serious, "csp": _csp_errors(driver)}  # fmt: skip

    found = await asyncio.to_thread(change_zone)
    assert found["before"] == "2026-11-24 13:00"  # the default zone, Europe/Paris (UTC+1 in November)
    assert found["after"] == "2026-11-24 21:00"  # Tokyo is UTC+9
    assert "Time zone set to Asia/Tokyo." in found["saved"] and found["shown"] == "Asia/Tokyo"
    assert found["nav"], "the settings page, opened from the app, leads back into it"
    assert found["axe"] == [], found["axe"]
    assert found["csp"] == []
    user = (await kit.chat.people.admit(ADA)).user
    assert user is not None and user.timezone == "Asia/Tokyo"


async def test_download_a_days_pdf_from_the_daily_logs_page(
    ada_app: tuple[Any, WebKit, WebServer, int],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    driver, kit, server, ada = ada_app
    day = date(2026, 11, 23)
    async with kit.db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO daily_logs (user_id, day, state, summary, attempts, updated_at) "
                "VALUES (:u, :d, 'posted', :s, 1, :t)"
            ),
            {"u": ada, "d": day, "s": "A day of **sailing** round the Ushant light.", "t": TEST_NOW},
        )
    kit.pdf_days.add((ada, day))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    link = await kit.sessions.link(ADA)
    fetch = """
    const done = arguments[arguments.length - 1];
    fetch(arguments[0]).then(async r => done({status: r.status, type: r.headers.get('content-type'),
      disposition: r.headers.get('content-disposition'),
      head: Array.from(new Uint8Array(await r.arrayBuffer())).slice(0, 8)}), e => done({error: String(e)}));
    """

    def download() -> dict[str, Any]:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        sign_in(driver, link, server.url)
        driver.find_element(By.LINK_TEXT, "Daily logs").click()
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.entry"))
        summary = driver.find_element(By.CSS_SELECTOR, "section.entry .body").get_attribute("innerHTML")
        pdf_link = driver.find_element(By.PARTIAL_LINK_TEXT, "Download the PDF of 2026-11-23")
        press(driver, pdf_link)
        saved = downloads / "2026-11-23.pdf"
        wait(driver).until(lambda d: saved.is_file() and not list(downloads.glob("*.crdownload")))
        fetched = driver.execute_async_script(fetch, pdf_link.get_attribute("href"))
        return {"summary": summary, "bytes": saved.read_bytes(), "fetched": fetched, "url": driver.current_url,
                "csp": _csp_errors(driver)}  # fmt: skip

    found = await asyncio.to_thread(download)
    assert "<strong>sailing</strong>" in found["summary"]
    assert found["bytes"] == PDF  # the download directory holds the day's PDF
    assert found["fetched"]["status"] == 200 and found["fetched"]["type"] == "application/pdf"
    assert found["fetched"]["disposition"] == 'attachment; filename="2026-11-23.pdf"'
    assert bytes(found["fetched"]["head"]) == PDF[:8]
    assert found["url"] == server.url + "/daily" and found["csp"] == []  # the page stays; the file is saved
    async with kit.signed_in(BOB) as bobs:  # another person asking for Ada's day gets nothing
        assert (await bobs.get("/daily/2026-11-23.pdf")).status_code == 404


async def test_a_command_typed_in_the_chat_answers_there_without_the_model(
    ada_app: tuple[Any, WebKit, WebServer, int],
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from core.commands import CommandSet

    driver, kit, server, _ = ada_app
    kit.app.state.webapp.commands = CommandSet(kit.chat, kit.chat.model)  # type: ignore[arg-type]
    link = await kit.sessions.link(ADA)

    def ask_for_help() -> dict[str, Any]:
        sign_in(driver, link, server.url)
        driver.get(server.url + "/chat")
        wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "#send").is_enabled())
        field = driver.find_element(By.CSS_SELECTOR, "textarea")
        field.send_keys("/help")
        field.send_keys(Keys.ENTER)
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".command.complete"))
        return {
            "reply": driver.find_element(By.CSS_SELECTOR, ".command.complete").text,
            "ready": driver.find_element(By.CSS_SELECTOR, "#send").is_enabled(),
            "csp": _csp_errors(driver),
        }

    found = await asyncio.to_thread(ask_for_help)
    assert "/new" in found["reply"] and found["ready"], found
    assert found["csp"] == []
