"""The settings page through the real FastAPI app (httpx ASGITransport), on SQLite and PostgreSQL.

/account sends a private single-use link; opening it sets the session cookie and redirects to /settings.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from core.clock import ManualClock
from core.db.database import Database
from core.identity.linking import AccountLinker
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.settings_page_helpers import ADA, BOB, SettingsKit, csrf_of, path_of

MOVE_ON = '<meta http-equiv="refresh" content="0;url=/settings">'


@pytest.fixture
def kit(database: Database, model: OpenAIModel) -> SettingsKit:
    clock = ManualClock(TEST_NOW)
    chat = make_chat_service(database, model, clock=clock)
    return SettingsKit(database, chat, clock, public_url="https://bot.example.org")


async def _open(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link as a person does: its page shows a button, pressing it opens the settings."""
    shown = await client.get(path_of(link))
    if shown.status_code != 200:
        return shown
    assert "set-cookie" in shown.headers and "Open my settings" in shown.text
    return await client.post(path_of(link), data={"csrf": csrf_of(shown.text)})


async def _signed_in_page(kit: SettingsKit, client: httpx.AsyncClient, who=ADA) -> str:  # type: ignore[no-untyped-def]
    opened = await _open(client, await kit.link(who))
    assert opened.status_code == 200 and MOVE_ON in opened.text
    page = await client.get("/settings")
    assert page.status_code == 200, page.text
    return page.text


async def test_the_link_works_once_and_sets_a_strict_session_cookie(kit: SettingsKit) -> None:
    link = await kit.link(ADA)
    assert link.startswith("https://bot.example.org/settings/")
    async with kit.client() as client:
        opened = await _open(client, link)
        assert opened.status_code == 200 and MOVE_ON in opened.text
        cookie = opened.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=strict", "secure", "path=/settings", "max-age=1800"):
            assert attribute in cookie
        assert opened.headers["cache-control"] == "no-store"
        page = await client.get("/settings")
        assert page.status_code == 200 and "Your settings" in page.text and "Ada" in page.text
        again = await _open(client, link)
    assert again.status_code == 400 and "already used" in again.text


async def test_the_cookie_is_not_secure_behind_plain_http(database: Database, model: OpenAIModel) -> None:
    clock = ManualClock(TEST_NOW)
    kit = SettingsKit(
        database, make_chat_service(database, model, clock=clock), clock, public_url="http://127.0.0.1:8080"
    )
    async with kit.client() as client:
        opened = await _open(client, await kit.link(ADA))
    assert "secure" not in opened.headers["set-cookie"].lower()


async def test_an_expired_or_unknown_link_is_refused(kit: SettingsKit) -> None:
    link = await kit.link(ADA)
    kit.later(11)
    async with kit.client() as client:
        expired = await _open(client, link)
        unknown = await client.get("/settings/not-a-real-token")
        page = await client.get("/settings")
    assert expired.status_code == 400 and "expired" in expired.text and "set-cookie" not in expired.headers
    assert unknown.status_code == 400 and "not valid" in unknown.text
    assert page.status_code == 401 and "/account" in page.text


async def test_the_session_ends_after_30_minutes(kit: SettingsKit) -> None:
    async with kit.client() as client:
        await _signed_in_page(kit, client)
        kit.later(31)
        page = await client.get("/settings")
    assert page.status_code == 401 and "session has ended" in page.text


async def test_changes_are_stored_and_confirmed(kit: SettingsKit) -> None:
    async with kit.client() as client:
        csrf = csrf_of(await _signed_in_page(kit, client))
        saved = await client.post(
            "/settings",
            data={
                "csrf": csrf,
                "name": "Ada L.",
                "timezone": "america/new_york",
                "daily_time": "21h15",
                "voice": "on",
            },
        )
        again = await client.post(
            "/settings",
            data={
                "csrf": csrf,
                "name": "Ada L.",
                "timezone": "America/New_York",
                "daily_time": "21:15",
                "voice": "on",
            },
        )
    assert saved.status_code == 200
    for sentence in (
        "Saved.",
        "call you Ada L.",
        "Time zone set to America/New_York.",
        "close your day at 21:15",
        "send every answer also as speech",
    ):
        assert sentence in saved.text
    assert 'value="America/New_York"' in saved.text and 'value="21:15"' in saved.text  # the page shows what is stored
    assert '<option value="on" selected>' in saved.text
    assert "Nothing changed." in again.text
    user = (await kit.chat.people.admit(ADA)).user  # a fresh decision: the page bumped the people revision
    assert user is not None
    assert (user.display_name, user.timezone) == ("Ada L.", "America/New_York")
    assert user.settings["daily_time"] == "21:15" and user.settings["voice"] == "on"
    reply = await kit.command(ADA, "settings")
    assert "America/New_York" in reply.text


async def test_the_daily_platform_and_link_previews_are_chosen_on_the_form_and_shown_in_the_chat(
    kit: SettingsKit,
) -> None:
    async with kit.client() as client:
        page = await _signed_in_page(kit, client)
        assert '<option value="last" selected>Where I wrote last</option>' in page
        assert '<select id="previews" name="previews"><option value="off" selected>' in page
        saved = await client.post(
            "/settings", data={"csrf": csrf_of(page), "name": "Ada", "daily_platform": "slack", "previews": "on"}
        )
        refused = await client.post("/settings", data={"csrf": csrf_of(page), "daily_platform": "telegram"})
    assert saved.status_code == 200
    assert "Your daily summary will come to your Slack DM." in saved.text and "now show previews" in saved.text
    assert '<option value="slack" selected>Slack</option>' in saved.text
    assert refused.status_code == 400 and "The daily platform is one of: discord, slack" in refused.text
    shown = (await kit.command(ADA, "settings")).text
    assert "Your daily summary comes to your Slack DM." in shown and "Links in my answers show previews." in shown


async def test_an_unknown_time_zone_is_a_clear_error_and_nothing_is_stored(kit: SettingsKit) -> None:
    async with kit.client() as client:
        csrf = csrf_of(await _signed_in_page(kit, client))
        refused = await client.post(
            "/settings", data={"csrf": csrf, "name": "Ada Changed", "timezone": "Mars/Olympus", "voice": "off"}
        )
    assert refused.status_code == 400
    assert "Nothing was saved." in refused.text and "“Mars/Olympus” is not a time zone I know" in refused.text
    assert 'value="Mars/Olympus"' in refused.text  # the form keeps what was typed
    user = (await kit.chat.people.admit(ADA)).user
    assert user is not None and user.display_name != "Ada Changed" and user.timezone is None


async def test_a_bad_daily_time_and_an_empty_name_are_refused(kit: SettingsKit) -> None:
    async with kit.client() as client:
        csrf = csrf_of(await _signed_in_page(kit, client))
        refused = await client.post("/settings", data={"csrf": csrf, "name": " ", "daily_time": "25:99"})
    assert refused.status_code == 400
    assert "Your name cannot be empty." in refused.text and "HH:MM" in refused.text


async def test_a_form_without_the_csrf_token_changes_nothing(kit: SettingsKit) -> None:
    async with kit.client() as client:
        await _signed_in_page(kit, client)
        missing = await client.post("/settings", data={"name": "Mallory", "timezone": "Asia/Tokyo"})
        wrong = await client.post("/settings", data={"csrf": "0" * 64, "name": "Mallory"})
    assert missing.status_code == 403 and wrong.status_code == 403 and "nothing was saved" in missing.text
    user = (await kit.chat.people.admit(ADA)).user
    assert user is not None and user.display_name != "Mallory" and user.timezone is None


async def test_another_users_session_sees_and_changes_only_their_own(kit: SettingsKit) -> None:
    async with kit.client() as ada, kit.client() as bob:
        ada_page = await _signed_in_page(kit, ada, ADA)
        bob_page = await _signed_in_page(kit, bob, BOB)
        assert 'value="Bob"' in bob_page and 'value="Ada"' not in bob_page
        # Bob's session with Ada's CSRF token: refused; with his own token it changes only Bob.
        crossed = await bob.post("/settings", data={"csrf": csrf_of(ada_page), "name": "Hacked"})
        own = await bob.post("/settings", data={"csrf": csrf_of(bob_page), "name": "Robert"})
        # A session cookie edited to name Ada's user fails its signature.
        forged = kit.client()
        body, mac = bob.cookies["captainslog_settings"].rsplit(".", 1)
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        ada_user = (await kit.chat.people.admit(ADA)).user
        assert ada_user is not None and payload["u"] != ada_user.id
        payload.update(u=ada_user.id, i=ADA.user_id)
        edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        forged.cookies.set("captainslog_settings", f"{edited}.{mac}")
        async with forged:
            forged_page = await forged.get("/settings")
    assert crossed.status_code == 403 and own.status_code == 200
    assert forged_page.status_code == 401
    ada_user, bob_user = (await kit.chat.people.admit(ADA)).user, (await kit.chat.people.admit(BOB)).user
    assert ada_user is not None and bob_user is not None
    assert (ada_user.display_name, bob_user.display_name) == ("Ada", "Robert")


async def test_signing_out_ends_the_session(kit: SettingsKit) -> None:
    await AccountLinker(kit.db).link(ADA, "ada@example.org")  # /signout unlinks only a signed-in account
    async with kit.client() as client:
        await _signed_in_page(kit, client)
        assert await AccountLinker(kit.db).unlink(ADA)
        await kit.chat.people.changed()
        page = await client.get("/settings")
    assert page.status_code == 401


async def test_a_sign_in_state_is_not_a_settings_link(kit: SettingsKit) -> None:
    from core.identity.states import Purpose

    state = await kit.states.create(Purpose.SIGNIN, ADA, "verifier")
    async with kit.client() as client:
        refused = await client.get(f"/settings/{state}")
    assert refused.status_code == 400
    assert (await kit.states.peek(state)).purpose is Purpose.SIGNIN  # still usable where it belongs


async def test_values_are_escaped(kit: SettingsKit) -> None:
    async with kit.client() as client:
        csrf = csrf_of(await _signed_in_page(kit, client))
        saved = await client.post("/settings", data={"csrf": csrf, "name": '<script>x</script>"'})
    assert "<script>x" not in saved.text and "&lt;script&gt;x&lt;/script&gt;" in saved.text
    assert "default-src 'none'" in saved.headers["content-security-policy"]


async def test_account_without_the_page_set_up_says_so(database: Database, model: OpenAIModel) -> None:
    from core.commands import CommandRequest
    from core.identity.commands import IdentityCommands

    chat = make_chat_service(database, model)
    handlers = IdentityCommands(
        chat=chat,
        linker=AccountLinker(database),
        google=None,
    )
    reply = await handlers.account(CommandRequest(ADA, None, {}))  # type: ignore[arg-type]
    assert reply.private and "not set up" in reply.text


async def test_a_link_preview_fetching_the_link_spends_nothing(kit: SettingsKit) -> None:
    link = await kit.link(ADA)
    async with kit.client() as crawler:
        for _ in range(3):
            preview = await crawler.get(path_of(link))
            assert preview.status_code == 200 and "Open my settings" in preview.text
            assert "captainslog_settings=" not in preview.headers.get("set-cookie", ""), "no session from a GET"
        # The crawler has no session, and a POST without the page's CSRF token is refused.
        assert (await crawler.get("/settings")).status_code == 401
    async with kit.client() as other:
        forged = await other.post(path_of(link), data={"csrf": "0" * 64})
        assert forged.status_code == 403
    async with kit.client() as client:
        opened = await _open(client, link)  # the person's own click still works
        assert opened.status_code == 200 and MOVE_ON in opened.text
        assert (await client.get("/settings")).status_code == 200


async def test_the_sign_out_button_ends_the_session_in_this_browser(kit: SettingsKit) -> None:
    async with kit.client() as client:
        page = await _signed_in_page(kit, client)
        assert 'action="/settings/signout"' in page
        forged = await client.post("/settings/signout", data={"csrf": "wrong"})
        assert forged.status_code == 403 and (await client.get("/settings")).status_code == 200
        out = await client.post("/settings/signout", data={"csrf": csrf_of(page)})
        assert out.status_code == 200 and "signed out" in out.text
        cookie = out.headers["set-cookie"].lower()
        assert "captainslog_settings=" in cookie and "max-age=0" in cookie and "path=/settings" in cookie
        after = await client.get("/settings")
    assert after.status_code == 401 and "/account" in after.text


async def test_after_sign_out_a_copy_of_the_session_cookie_is_refused_too(kit: SettingsKit) -> None:
    async with kit.client() as client:
        page = await _signed_in_page(kit, client)
        copied = client.cookies.get("captainslog_settings")
        assert copied
        assert (await client.post("/settings/signout", data={"csrf": csrf_of(page)})).status_code == 200
    async with kit.client() as thief:
        thief.cookies.set("captainslog_settings", copied)
        assert (await thief.get("/settings")).status_code == 401
    async with kit.client() as again:  # a new link still works
        await _signed_in_page(kit, again)
