"""Sign in to the web app with Google: the real app (ASGI) and the Google fake (loopback HTTP), one cookie jar.

The browser presses "Sign in with Google", passes Google's (fake) consent and comes back to the callback,
which opens a web session for the Google account, linked to the person who owns that verified email.
"""

from __future__ import annotations

import re

import httpx
import pytest

from core.clock import ManualClock
from core.db.database import Database
from core.identity.linking import AccountLinker
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit, _google_server, google_fake  # noqa: F401
from tests.memory_helpers import add_conversation, add_message
from tests.signin_site import rows
from tests.web_helpers import ADA, WebKit, google_people, google_signin

ORIGIN = "https://testserver"
ALLOWED = ["ada@example.org"]


@pytest.fixture
async def kit(database: Database, model: OpenAIModel, google_fake: FakeGoogle) -> WebKit:  # noqa: F811
    clock = ManualClock(TEST_NOW)
    people = google_people(database, clock, ALLOWED)
    chat = make_chat_service(database, model, clock=clock, people=people)
    kit = WebKit(database, chat, model, clock, public_url="https://bot.example.org")
    google_signin(kit, GoogleKit(database, google_fake, redirect_uri=ORIGIN + "/oauth/google/callback"), ALLOWED)
    return kit


def browser(kit: WebKit) -> httpx.AsyncClient:
    """One cookie jar for the app (in process) and Google's fake (on loopback), following redirects."""
    app = httpx.ASGITransport(app=kit.app)
    return httpx.AsyncClient(mounts={ORIGIN: app}, base_url=ORIGIN, follow_redirects=True, timeout=15)


async def test_sign_in_with_google_opens_a_session_and_reaches_the_chat(kit: WebKit, google_fake: FakeGoogle) -> None:  # noqa: F811
    async with browser(kit) as client:
        page = await client.get("/signin")
        assert page.status_code == 200 and "Sign in with Google" in page.text
        # The button's answer is a redirect to Google: the page's CSP lets the form go there.
        assert f"form-action 'self' {google_fake.url}" in page.headers["content-security-policy"]
        landed = await client.post("/signin-with-google")
        assert landed.status_code == 200 and 'content="0;url=/chat"' in landed.text, landed.text
        chat = await client.get("/chat")
        timeline = await client.get("/timeline")
    assert chat.status_code == 200 and 'id="composer"' in chat.text
    assert str(chat.url) == ORIGIN + "/chat" and timeline.status_code == 200
    accounts = await rows(
        kit.db, "SELECT i.platform, i.display_name, u.email FROM identities i JOIN users u ON u.id = i.user_id"
    )
    assert accounts == [("google", "ada@example.org", "ada@example.org")]


async def test_the_google_account_reaches_the_person_who_owns_its_email(kit: WebKit) -> None:
    # Ada talks on a chat platform and signed in there with Google before: same person, same history.
    user_id = await AccountLinker(kit.db).link(ADA, "ada@example.org")
    conversation = await add_conversation(kit.db, user_id, "discord", "dm-1", TEST_NOW)
    await add_message(kit.db, conversation, "user", "the jib sheet is frayed", TEST_NOW, author=user_id)
    async with browser(kit) as client:
        assert (await client.post("/signin-with-google")).status_code == 200
        found = (await client.get("/api/v1/messages")).json()["messages"]
    assert [m["text"] for m in found] == ["the jib sheet is frayed"]


async def test_an_email_not_on_the_allowlist_gets_no_session(kit: WebKit, google_fake: FakeGoogle) -> None:  # noqa: F811
    google_fake.consent.email = "mallory@example.org"
    async with browser(kit) as client:
        refused = await client.post("/signin-with-google")
        chat = await client.get("/chat", follow_redirects=False)
    assert refused.status_code == 403 and "mallory@example.org is not allowed" in refused.text
    assert chat.status_code == 303 and chat.headers["location"] == "/signin"
    assert await rows(kit.db, "SELECT id FROM identities") == []


async def test_a_callback_opened_in_another_browser_signs_nobody_in(kit: WebKit) -> None:
    async with browser(kit) as starter:
        to_google = await starter.post("/signin-with-google", follow_redirects=False)
        back = await starter.get(to_google.headers["location"], follow_redirects=False)
    callback = back.headers["location"]
    assert re.match(ORIGIN + r"/oauth/google/callback\?code=", callback)
    async with browser(kit) as victim:  # e.g. the callback URL sent to someone else (login CSRF)
        page = await victim.get(callback)
        chat = await victim.get("/chat", follow_redirects=False)
    assert page.status_code == 400 and "started in another browser" in page.text
    assert chat.status_code == 303 and await rows(kit.db, "SELECT id FROM web_sessions") == []


async def test_without_google_configured_the_page_offers_only_the_link(database: Database, model: OpenAIModel) -> None:
    clock = ManualClock(TEST_NOW)
    kit = WebKit(database, make_chat_service(database, model, clock=clock), model, clock, public_url="https://x.org")
    async with kit.client() as client:
        page = await client.get("/signin")
        started = await client.post("/signin-with-google")
    assert "Sign in with Google" not in page.text and "/account" in page.text
    assert started.status_code == 404
