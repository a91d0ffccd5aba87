"""A sign-in or /connect link opened by someone else cannot take over an account (issue 18, High/Medium).

The confirmation page names the account being linked; an email that already has accounts
links a new one only after one of them approves, and all of them are told; a /connect link
finished with another Google account stores nothing.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text

from core.identity.signin import Outcome
from core.types import PlatformIdentity
from tests.google_helpers import answer_approval, submit
from tests.signin_site import DISCORD, SLACK, TERMINAL, Site, linked

EVE = PlatformIdentity("discord", "", "666", "eve")
ADA = "ada@example.org"


async def test_a_strangers_link_opened_by_ada_names_the_stranger_and_waits_for_adas_accounts(site: Site) -> None:
    await site.sign_in(SLACK)  # Ada's own first account: linked at once
    assert site.told == []
    link = await site.signin.start(EVE)  # the stranger's link, forwarded to Ada
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as ada_browser:
        page = await ada_browser.get(link)
        assert page.status_code == 200
        assert f"Link Discord user eve (666) to {ADA}?" in page.text
        assert "If someone sent you this link, do not link it" in page.text
        assert await linked(site.db) == [("slack", "U222", ADA)]
        waiting = await submit(ada_browser, page, "choice", "link")  # Ada clicks through anyway
    assert waiting.status_code == 200 and "I asked them to approve Discord user eve (666)" in waiting.text
    assert await linked(site.db) == [("slack", "U222", ADA)], "not linked before an existing account approves"
    assert site.results[-1].outcome is Outcome.AWAITING_APPROVAL and site.results[-1].identity == EVE
    [(accounts, asked)] = site.told
    assert accounts == [SLACK.key]
    assert "asked to link Discord user eve (666) to your account" in asked and "/signin/approve/" in asked

    # A link-preview crawler (or a second look) fetching the approval link changes nothing.
    approval = site.approval_link()
    async with httpx.AsyncClient(timeout=10) as crawler:
        for _ in range(2):
            shown = await crawler.get(approval)
            assert shown.status_code == 200 and "Link Discord user eve (666) to your account" in shown.text
    assert await linked(site.db) == [("slack", "U222", ADA)]

    denied = await answer_approval(approval, "deny", timeout=10)
    assert denied.status_code == 200 and "was denied, so nothing was linked" in denied.text
    assert await linked(site.db) == [("slack", "U222", ADA)]
    assert site.told[-1] == ([SLACK.key], f"Denied: Discord user eve (666) was not linked to your account ({ADA}).")
    assert site.results[-1].outcome is Outcome.LINK_DENIED and site.results[-1].identity == EVE
    async with httpx.AsyncClient(timeout=10) as browser:
        dead = await browser.get(approval)
    assert dead.status_code == 400 and "no longer works" in dead.text


async def test_an_approved_account_is_linked_and_every_existing_account_is_told(site: Site) -> None:
    await site.sign_in(SLACK)
    await site.sign_in(TERMINAL)  # approved by Slack
    assert site.told[-1][0] == [SLACK.key] and "now linked" in site.told[-1][1]
    page = await site.follow(await site.signin.start(DISCORD))
    assert "I asked them to approve" in page.text
    asked = site.told[-1]
    assert sorted(asked[0]) == sorted([SLACK.key, TERMINAL.key]), "every existing account is asked"
    approved = await answer_approval(site.approval_link(), "approve", timeout=10)
    assert approved.status_code == 200 and "Approved: Discord user ada#1 (111) is now linked to" in approved.text
    assert sorted(await linked(site.db)) == sorted(
        [("slack", "U222", ADA), ("terminal", "ada", ADA), ("discord", "111", ADA)]
    )
    told = site.told[-1]
    assert sorted(told[0]) == sorted([SLACK.key, TERMINAL.key])
    assert told[1].startswith(f"Discord user ada#1 (111) is now linked to your account ({ADA}).")
    assert site.results[-1].outcome is Outcome.SIGNED_IN and site.results[-1].identity == DISCORD


async def test_the_confirmation_needs_this_browsers_csrf_token_and_cancel_links_nothing(site: Site) -> None:
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        page = await browser.get(await site.signin.start(DISCORD))
        # The same form posted from another browser (another site's page, no cookie): refused.
        async with httpx.AsyncClient(timeout=10) as other:
            forged = await submit(other, page, "choice", "link")
        assert forged.status_code == 403 and "nothing changed" in forged.text
        # A wrong CSRF value in this browser: refused too.
        action = str(page.url.join("/signin/confirm"))
        token = page.text.split('name="token" value="')[1].split('"')[0]
        wrong = await browser.post(action, data={"token": token, "csrf": "0" * 64, "choice": "link"})
        assert wrong.status_code == 403
        assert await linked(site.db) == []
        cancelled = await submit(browser, page, "choice", "cancel")
        assert cancelled.status_code == 200 and "Nothing was linked" in cancelled.text
        again = await submit(browser, page, "choice", "link")
        assert again.status_code == 400 and "no longer works" in again.text, "the confirmation is used up"
    assert await linked(site.db) == []


async def test_an_approval_without_the_pages_csrf_token_or_after_a_day_is_refused(site: Site) -> None:
    await site.sign_in(SLACK)
    await site.follow(await site.signin.start(EVE))
    approval = site.approval_link()
    token = approval.rsplit("/", 1)[1]
    async with httpx.AsyncClient(timeout=10) as forger:
        forged = await forger.post(approval, data={"token": token, "csrf": "x", "decision": "approve"})
    assert forged.status_code == 403
    site.clock.advance(days=1, minutes=1)
    async with httpx.AsyncClient(timeout=10) as browser:
        late = await browser.get(approval)
    assert late.status_code == 400
    assert await linked(site.db) == [("slack", "U222", ADA)]


async def test_a_forwarded_connect_link_finished_with_another_google_account_stores_nothing(site: Site) -> None:
    await site.sign_in(DISCORD)
    user_id = site.results[-1].user_id
    assert user_id is not None
    link = await site.signin.start_connect(DISCORD, user_id)
    site.fake.consent.email = "eve@elsewhere.org"  # whoever opened the link chose their own Google account
    page = await site.follow(link)
    assert page.status_code == 400
    assert "Nothing was connected: eve@elsewhere.org is not the Google account" in page.text
    assert await site.kit.store.load(user_id) is None
    # The right Google account connects.
    site.fake.consent.email = ADA
    page = await site.follow(await site.signin.start_connect(DISCORD, user_id))
    assert page.status_code == 200 and "connected" in page.text
    assert await site.kit.store.load(user_id) is not None


async def test_a_connect_link_of_a_user_without_a_verified_email_asks_first_naming_the_account(site: Site) -> None:
    from tests.integration.google.test_signin import _email_less_user

    user_id = await _email_less_user(site.db, DISCORD)  # let in by ALLOWED_ACCOUNTS, never signed in
    link = await site.signin.start_connect(DISCORD, user_id)
    async with httpx.AsyncClient(timeout=10) as crawler:  # a link preview: shown, nothing started or spent
        shown = await crawler.get(link)
        assert shown.status_code == 200 and "location" not in shown.headers
        assert "Connect your Google Drive and Calendar to Discord user ada#1 (111)?" in shown.text
        assert "If someone sent you this link, do not continue" in shown.text
        policy = shown.headers["content-security-policy"]
        google = httpx.URL(site.fake.auth_url)
        assert f"form-action 'self' {google.scheme}://{google.host}:{google.port};" in policy, policy
        forged = await crawler.post(link, data={"token": link.rsplit("/", 1)[1], "csrf": "0" * 64, "choice": "go"})
        assert forged.status_code == 403
    assert await site.kit.store.load(user_id) is None
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        page = await browser.get(link)
        done = await submit(browser, page, "choice", "go")  # → Google's consent → the callback
    assert done.status_code == 200 and "Google Drive and Calendar are connected (ada@example.org)" in done.text
    assert await site.kit.store.load(user_id) is not None


async def test_the_new_pages_keep_the_headers_and_store_and_log_no_token(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core")
    caplog.set_level(logging.DEBUG, logger="bot")
    await site.sign_in(SLACK)
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        page = await browser.get(await site.signin.start(EVE))
        confirm_token = page.text.split('name="token" value="')[1].split('"')[0]
        await submit(browser, page, "choice", "link")
    for header, value in (
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ):
        assert page.headers[header] == value
    assert "default-src 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/signin" in cookie
    approve_token = site.approval_link().rsplit("/", 1)[1]
    async with site.db.engine.connect() as conn:
        dump = repr((await conn.execute(text("SELECT * FROM link_requests"))).all())
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for token in (confirm_token, approve_token):
        assert token not in dump and token not in logs
    assert "asked to join user" in logs  # the logs were captured at all
