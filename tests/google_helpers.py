"""Fixtures and builders for tests of sign-in and Google (import the fixtures into a test module)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from core.db.database import Database
from core.google.api import GoogleApi
from core.google.credentials import GoogleCredentialsProvider
from core.google.oauth import GoogleClientConfig, GoogleOAuth
from core.google.tokens import GoogleTokenStore, TokenCipher
from tests.fakes.google_server import FakeGoogle

SECRET_KEY = "test-secret-key-0123456789-abcdefghijkl"


@pytest.fixture(scope="session")
def _google_server() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def google_fake(_google_server: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> FakeGoogle:
    """The Google fake, reset; oauthlib is allowed plain http to loopback for this test only."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    _google_server.reset()
    return _google_server


def client_config(
    fake: FakeGoogle, redirect_uri: str = "http://127.0.0.1:9/oauth/google/callback"
) -> GoogleClientConfig:
    """The OAuth client config pointing every endpoint at the fake."""
    return GoogleClientConfig(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        redirect_uri=redirect_uri,
        auth_url=fake.auth_url,
        token_url=fake.token_url,
        certs_url=fake.certs_url,
        revoke_url=fake.revoke_url,
        timeout=10,
    )


class GoogleKit:
    """The Google pieces wired on one database and the fake, as the container would."""

    def __init__(self, db: Database, fake: FakeGoogle, *, redirect_uri: str | None = None) -> None:
        self.config = client_config(fake, redirect_uri) if redirect_uri else client_config(fake)
        self.cipher = TokenCipher(SECRET_KEY)
        self.store = GoogleTokenStore(db, self.cipher)
        self.oauth = GoogleOAuth(self.config)
        self.credentials = GoogleCredentialsProvider(self.store, self.config)
        self.api = GoogleApi(self.credentials, api_url=fake.api_url, timeout=10)


HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
ACTION = re.compile(r'<form method="post" action="([^"]+)">')


async def submit(browser: httpx.AsyncClient, page: httpx.Response, name: str, value: str) -> httpx.Response:
    """Press the button ``name=value`` of the page's form, as a browser would (same cookies)."""
    action = ACTION.search(page.text)
    assert action is not None, page.text
    fields = dict(HIDDEN.findall(page.text))
    fields[name] = value
    return await browser.post(str(page.url.join(action.group(1))), data=fields)


async def open_and_confirm(link: str, *, choice: str = "link", timeout: float = 15) -> httpx.Response:
    """A browser follows a sign-in link through Google's (fake) consent and, when the page asks
    "Link … to …?", presses ``choice`` ("link" or "cancel"); returns the last page."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=timeout) as browser:
        page = await browser.get(link)
        if 'name="choice"' not in page.text:
            return page
        return await submit(browser, page, "choice", choice)


async def answer_approval(link: str, decision: str, *, timeout: float = 15) -> httpx.Response:
    """An existing account opens the approval link from its DM and presses Approve or Deny."""
    async with httpx.AsyncClient(timeout=timeout) as browser:
        page = await browser.get(link)
        assert page.status_code == 200, page.text
        return await submit(browser, page, "decision", decision)
