"""``/forget-me`` as the built bot runs it: Google's grant is revoked at Google (the fake's revoke endpoint),
and the person's cached day PDFs leave the data folder with their rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import text

from bot.config import Settings
from bot.container import Container
from core.clock import ManualClock
from core.commands import CommandRequest
from core.db.database import Database
from core.google.oauth import CONNECT_SCOPES, new_code_verifier
from core.types import ConversationRef, PlatformIdentity
from tests.conftest import TEST_NOW
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import FakeOpenAI
from tests.google_helpers import SECRET_KEY

ADA = PlatformIdentity("terminal", "local", "ada", "Ada")
HERE = ConversationRef("terminal", "local", "ada")


def settings_for(tmp_path: Path, database: Database, openai_fake: FakeOpenAI, google: FakeGoogle) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database.url,
        openai_api_key="sk-test",
        openai_base_url=openai_fake.base_url,
        openai_max_retries=0,
        memory_extraction=False,
        allowed_accounts=["terminal:*"],
        allowed_emails=["ada@example.org"],
        web_host="127.0.0.1",
        web_port=0,
        public_url="http://127.0.0.1:9",
        secret_key=SECRET_KEY,
        google_client_id=google.client_id,
        google_client_secret=google.client_secret,
        google_auth_url=google.auth_url,
        google_token_url=google.token_url,
        google_certs_url=google.certs_url,
        google_api_url=google.api_url,
        google_revoke_url=google.revoke_url,
        google_timeout=10,
    )


async def test_forget_me_revokes_the_google_grant_at_google_and_removes_cached_day_pdfs(
    tmp_path: Path, database: Database, openai_fake: FakeOpenAI, google_fake: FakeGoogle
) -> None:
    container = await Container.create(
        settings_for(tmp_path, database, openai_fake, google_fake), clock=ManualClock(TEST_NOW)
    )
    try:
        user = (await container.people.admit(ADA)).user
        assert user is not None and container.identity.google is not None and container.daily is not None
        google = container.identity.google
        # Ada went through Google's consent (the real Flow against the fake) and her token is stored.
        oauth = google.connections.oauth
        verifier = new_code_verifier()
        url = oauth.authorization_url(state="s1", code_verifier=verifier, scopes=CONNECT_SCOPES)
        async with httpx.AsyncClient() as browser:
            code = httpx.URL((await browser.get(url)).headers["location"]).params["code"]
        grant = await oauth.exchange(code=code, code_verifier=verifier, scopes=CONNECT_SCOPES)
        await google.tokens.save(
            user.id, refresh_token=grant.refresh_token, access_token=None, expiry=None, scopes=grant.scopes
        )
        container.daily.job.pdfs.save(user.id, date(2026, 11, 23), b"%PDF-1.7 Ada's whole day")
        cached = tmp_path / "data" / "daily" / str(user.id)
        assert cached.is_dir()

        reply = await container.commands.run("forget-me", CommandRequest(ADA, HERE, {"confirm": "DELETE"}))

        assert reply.text.startswith("Done: everything I stored about you is deleted.")
        assert google_fake.refresh_tokens[grant.refresh_token].revoked, "revoked at Google, not only deleted here"
        assert not cached.exists()
        async with database.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM google_tokens"))).scalar_one() == 0
    finally:
        await container.close()
