"""Sign-in end to end: the link, Google's consent (fake), the callback on the real uvicorn server, the linking."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from sqlalchemy import text

from core.db.database import Database
from core.identity.allowlist import EmailAllowlist
from core.identity.signin import CALLBACK_PATH, Outcome
from core.types import PlatformIdentity
from tests.google_helpers import SECRET_KEY, submit
from tests.signin_site import DISCORD, SLACK, TERMINAL, Site, linked, rows


async def test_full_sign_in_through_the_real_libraries(site: Site) -> None:
    link = await site.signin.start(DISCORD)
    assert link.startswith(site.server.url + "/signin/")
    async with httpx.AsyncClient(timeout=10) as browser:
        to_google = await browser.get(link)
        assert to_google.status_code == 303
        consent = httpx.URL(to_google.headers["location"])
        assert str(consent).startswith(site.fake.auth_url)
        params = consent.params
        assert params["code_challenge_method"] == "S256" and params["code_challenge"]
        assert params["access_type"] == "offline" and params["prompt"] == "consent"
        assert set(params["scope"].split()) == {"openid", "https://www.googleapis.com/auth/userinfo.email"}
        assert params["redirect_uri"] == site.server.url + CALLBACK_PATH
        back = await browser.get(str(consent))
        assert back.status_code == 302 and back.headers["location"].startswith(site.server.url + CALLBACK_PATH)
        page = await browser.get(back.headers["location"])
        assert page.status_code == 200
        assert "Link Discord user ada#1 (111) to ada@example.org?" in page.text
        assert await linked(site.db) == [], "nothing is linked before the person confirms"
        page = await submit(browser, page, "choice", "link")
    assert page.status_code == 200
    assert "signed in as ada@example.org" in page.text
    assert await linked(site.db) == [("discord", "111", "ada@example.org")]
    assert [(r.outcome, r.identity, r.email) for r in site.results] == [(Outcome.SIGNED_IN, DISCORD, "ada@example.org")]
    assert site.bumps == [1]
    token_request = next(r for r in site.fake.requests if r.path == "/token")
    assert b"code_verifier=" in token_request.body


async def test_same_email_from_every_platform_is_one_user(site: Site) -> None:
    for who in (DISCORD, SLACK, TERMINAL):
        site.fake.consent.email = "Ada@Example.org"  # Google may return any case
        await site.sign_in(who)
    users = await rows(site.db, "SELECT id, email FROM users")
    assert len(users) == 1 and users[0][1] == "ada@example.org"
    owners = await rows(site.db, "SELECT DISTINCT user_id FROM identities")
    assert owners == [(users[0][0],)]
    assert len(await linked(site.db)) == 3


async def _email_less_user(db: Database, who: PlatformIdentity) -> int:
    """An account that chatted before sign-in existed (ALLOWED_ACCOUNTS): a user without an email."""
    async with db.engine.begin() as conn:
        user_id = (
            await conn.execute(
                text(
                    "INSERT INTO users (display_name, settings, created_at)"
                    " VALUES ('old', '{}', '2026-01-01 00:00:00') RETURNING id"
                )
            )
        ).scalar_one()
        await conn.execute(
            text(
                "INSERT INTO identities (user_id, platform, workspace, platform_user_id, display_name, created_at)"
                " VALUES (:u, :p, :w, :id, '', '2026-01-01 00:00:00')"
            ),
            {"u": user_id, "p": who.platform, "w": who.workspace, "id": who.user_id},
        )
    return int(user_id)


async def test_an_account_that_chatted_before_keeps_its_user(site: Site) -> None:
    slack_user = await _email_less_user(site.db, SLACK)
    discord_user = await _email_less_user(site.db, DISCORD)
    # The first account to sign in with the email gives its user the email, keeping its history.
    await site.follow(await site.signin.start(SLACK))
    assert ("ada@example.org",) in await rows(site.db, f"SELECT email FROM users WHERE id = {slack_user}")
    # The second account had its own email-less user: it is moved onto Ada's (once Slack approves).
    await site.sign_in(DISCORD)
    assert await rows(site.db, "SELECT DISTINCT user_id FROM identities") == [(slack_user,)]
    assert await rows(site.db, f"SELECT email FROM users WHERE id = {discord_user}") == [(None,)]


async def test_domain_pattern_lets_in(site: Site) -> None:
    site.fake.consent.email = "bob@team.example.org"
    page = await site.follow(await site.signin.start(SLACK))
    assert page.status_code == 200
    assert await linked(site.db) == [("slack", "U222", "bob@team.example.org")]


async def test_the_state_is_bound_to_the_account_that_asked(site: Site) -> None:
    mine = await site.signin.start(DISCORD)
    await site.signin.start(SLACK)
    await site.follow(mine)
    assert await linked(site.db) == [("discord", "111", "ada@example.org")]


async def test_state_used_twice_is_refused(site: Site) -> None:
    link = await site.signin.start(DISCORD)
    async with httpx.AsyncClient(timeout=10) as browser:
        consent = (await browser.get(link)).headers["location"]
        callback = (await browser.get(consent)).headers["location"]
        first = await browser.get(callback)
        assert first.status_code == 200
        assert (await submit(browser, first, "choice", "link")).status_code == 200
        # Replayed (e.g. by someone who saw the URL): refused, and the link itself is dead too.
        again = await browser.get(callback)
        assert again.status_code == 400 and "already used" in again.text
        link_again = await browser.get(link)
        assert link_again.status_code == 400 and "already used" in link_again.text
    assert len(await linked(site.db)) == 1


async def test_the_callback_takes_no_redirect_target(site: Site) -> None:
    async with httpx.AsyncClient(timeout=10) as browser:
        consent = (await browser.get(await site.signin.start(DISCORD))).headers["location"]
        callback = (await browser.get(consent)).headers["location"]
        evil = "https://evil.example/phish"
        page = await browser.get(f"{callback}&next={evil}&redirect_uri={evil}&return_to={evil}")
    assert page.status_code == 200 and "location" not in page.headers
    assert "evil.example" not in page.text


async def _refused(site: Site, status: int, words: str) -> None:
    page = await site.follow(await site.signin.start(DISCORD))
    assert page.status_code == status, page.text
    assert words in page.text
    assert await linked(site.db) == []
    assert await rows(site.db, "SELECT email FROM users WHERE email IS NOT NULL") == []
    assert site.bumps == []


async def test_expired_state_is_refused(site: Site) -> None:
    link = await site.signin.start(DISCORD)
    async with httpx.AsyncClient(timeout=10) as browser:
        consent = (await browser.get(link)).headers["location"]
        site.clock.advance(minutes=11)
        page = await browser.get(consent, follow_redirects=True)
        assert page.status_code == 400 and "expired" in page.text
        dead = await browser.get(link)
        assert dead.status_code == 400 and "expired" in dead.text
    assert await linked(site.db) == []


async def test_old_states_are_purged(site: Site) -> None:
    await site.signin.start(DISCORD)
    await site.signin.start(SLACK)
    assert await site.signin.states.purge() == 0  # still pending
    site.clock.advance(days=2)
    # Making a state purges the expired ones (at most hourly): the refused strangers' rows are gone.
    fresh = await site.signin.start(TERMINAL)
    assert await rows(site.db, "SELECT platform FROM oauth_states") == [("terminal",)]
    assert await site.signin.states.purge() == 0
    page = await site.follow(fresh)
    assert page.status_code == 200


async def test_unknown_state_is_refused(site: Site) -> None:
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(f"{site.server.url}{CALLBACK_PATH}?state=made-up&code=x")
        link = await browser.get(f"{site.server.url}/signin/made-up")
    assert page.status_code == 400 and "not valid" in page.text
    assert link.status_code == 400


async def test_tampered_id_token_is_refused(site: Site) -> None:
    site.fake.tamper_id_token = True
    await _refused(site, 400, "could not be verified")


async def test_expired_id_token_is_refused(site: Site) -> None:
    # google-auth checks exp against the real clock, so the token's times are relative to it.
    now = int(time.time())
    site.fake.id_token_claims = {"iat": now - 7200, "exp": now - 3600}
    await _refused(site, 400, "could not be verified")


async def test_wrong_audience_is_refused(site: Site) -> None:
    site.fake.id_token_claims = {"aud": "another-app.apps.googleusercontent.com"}
    await _refused(site, 400, "could not be verified")


async def test_wrong_issuer_is_refused(site: Site) -> None:
    site.fake.id_token_claims = {"iss": "https://accounts.evil.example"}
    await _refused(site, 400, "could not be verified")


async def test_unverified_email_is_refused(site: Site) -> None:
    site.fake.consent.email_verified = False
    await _refused(site, 400, "could not be verified")


async def test_email_not_on_the_list_is_refused(site: Site) -> None:
    site.fake.consent.email = "eve@elsewhere.org"
    await _refused(site, 403, "eve@elsewhere.org is not allowed")
    assert [(r.outcome, r.identity) for r in site.results] == [(Outcome.NOT_ALLOWED, DISCORD)]


async def test_cancelled_consent(site: Site) -> None:
    site.fake.consent.deny = True
    await _refused(site, 400, "cancelled")


async def test_connect_google_stores_the_refresh_token_encrypted(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for name in ("core", "bot"):
        caplog.set_level(logging.DEBUG, logger=name)
    await site.follow(await site.signin.start(DISCORD))
    user_id = site.results[0].user_id
    assert user_id is not None
    link = await site.signin.start_connect(DISCORD, user_id)
    page = await site.follow(link)
    assert page.status_code == 200 and "Drive and Calendar are connected" in page.text
    stored = await site.kit.store.load(user_id)
    assert stored is not None and stored.refresh_token in site.fake.refresh_tokens
    assert "https://www.googleapis.com/auth/drive.file" in stored.scopes

    secrets = [
        *site.fake.refresh_tokens,
        *site.fake.access_tokens,
        site.fake.client_secret,
        SECRET_KEY,
        link.rsplit("/", 1)[1],  # the raw state
    ]
    for request in site.fake.requests:
        if request.path == "/token" and b"code_verifier=" in request.body:
            secrets.append(httpx.QueryParams(request.body.decode())["code_verifier"])
            secrets.append(httpx.QueryParams(request.body.decode())["code"])
    dump = ""
    for table in ("users", "identities", "oauth_states", "link_requests", "google_tokens"):
        dump += repr(await rows(site.db, f"SELECT * FROM {table}"))
    # httpx here is the test's browser, not the bot (whose logging silences httpx anyway).
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for secret in secrets:
        assert secret not in dump
        assert secret not in logs
    assert "signed in" in logs  # the logs were captured at all


async def test_server_health_and_stop(site: Site) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(site.server.url + "/healthz")).text == "ok"
    url = site.server.url
    await site.server.stop()
    async with httpx.AsyncClient(timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url + "/healthz")


def test_allowlist_patterns() -> None:
    allow = EmailAllowlist.parse("Ada@Example.org, *@team.example.org\nbob@x.org")
    assert allow.allows("ada@example.org") and allow("ADA@EXAMPLE.ORG")
    assert allow.allows("zed@team.example.org")
    assert not allow.allows("zed@evil.team.example.org")
    assert not allow.allows("zed@team.example.org.evil.com")
    assert not allow.allows("eve@example.org")
    assert not allow.allows("@team.example.org")
    assert not EmailAllowlist([]).allows("ada@example.org")


async def test_a_state_made_for_another_purpose_never_starts_or_finishes_a_sign_in(site: Site) -> None:
    from core.identity.states import Purpose

    settings_state = await site.signin.states.create(Purpose.SETTINGS_PAGE, DISCORD, "")
    async with httpx.AsyncClient(timeout=10) as browser:
        started = await browser.get(f"{site.server.url}/signin/{settings_state}")
        finished = await browser.get(f"{site.server.url}{CALLBACK_PATH}?state={settings_state}&code=anything")
    assert started.status_code == 400 and finished.status_code == 400
    assert await linked(site.db) == []
    assert (await site.signin.states.peek(settings_state)).purpose is Purpose.SETTINGS_PAGE, "not used up"
