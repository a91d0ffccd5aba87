"""Sign-in and Google built from the settings, and the doctor's Google checks, against the fake."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.errors import ConfigError
from bot.google_checks import google_checks
from bot.identity_wiring import build_identity, build_web_server, tidy_at_start
from core.clock import ManualClock
from core.db.database import Database
from core.events import EventBus, SignInFinished
from core.google.tokens import GoogleTokenStore, TokenCipher
from core.identity.results import Outcome
from core.identity.signin import SignInResult
from core.types import PlatformIdentity
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import SECRET_KEY, open_and_confirm


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(fake: FakeGoogle, **overrides: object) -> Settings:
    port = _free_port()
    values: dict[str, object] = {
        "web_host": "127.0.0.1",
        "web_port": port,
        "public_url": f"http://127.0.0.1:{port}/",
        "secret_key": SECRET_KEY,
        "allowed_emails": ["ada@example.org"],
        "google_client_id": fake.client_id,
        "google_client_secret": fake.client_secret,
        "google_auth_url": fake.auth_url,
        "google_token_url": fake.token_url,
        "google_certs_url": fake.certs_url,
        "google_api_url": fake.api_url,
        "google_revoke_url": fake.revoke_url,
        "google_timeout": 10,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


NEW_KEY = "Zk3v-9QpL2x_7RmTn4YcB8wJ1hFsE6uGdA0"


async def test_built_from_settings_a_sign_in_works(database: Database, google_fake: FakeGoogle) -> None:
    results: list[SignInResult] = []

    events = EventBus()
    events.subscribe(SignInFinished, lambda event: results.append(event.result))
    settings = _settings(google_fake)
    services = build_identity(settings, database, clock=ManualClock(datetime(2026, 6, 1, tzinfo=UTC)), events=events)
    assert services.google is not None
    web = build_web_server(settings, services)
    await web.start()
    try:
        link = await services.google.signin.start(PlatformIdentity("slack", "T1", "U1", "ada"))
        page = await open_and_confirm(link, timeout=10)
    finally:
        await web.stop()
    assert page.status_code == 200 and "ada@example.org" in page.text
    # The confirmation page, then the confirmed sign-in.
    assert [(r.outcome, r.email) for r in results] == [
        (Outcome.CONFIRM, "ada@example.org"),
        (Outcome.SIGNED_IN, "ada@example.org"),
    ]
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("SELECT email FROM users"))).scalar_one() == "ada@example.org"


async def test_configuration_mistakes_are_clear(database: Database, google_fake: FakeGoogle) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        build_identity(_settings(google_fake, secret_key=None), database)
    with pytest.raises(ConfigError, match=r"SECRET_KEY is only 5 characters long .*secrets.token_urlsafe"):
        build_identity(_settings(google_fake, secret_key="short"), database)
    with pytest.raises(ConfigError, match="PUBLIC_URL=bot.example.org is not an absolute http"):
        build_identity(_settings(google_fake, public_url="bot.example.org"), database)
    with pytest.raises(ConfigError, match="SECRET_KEY is only 1 characters"):  # the settings page alone, no Google
        build_identity(_settings(google_fake, secret_key="x", google_client_id="", allowed_emails=[]), database)
    with pytest.raises(ConfigError, match="ALLOWED_EMAILS"):
        build_identity(_settings(google_fake, google_client_id=""), database)
    off = build_identity(_settings(google_fake, google_client_id="", allowed_emails=[]), database)
    assert off.google is None


async def test_doctor_checks_pass_for_a_good_setup(database: Database, google_fake: FakeGoogle) -> None:
    results = await google_checks(_settings(google_fake), database)
    assert all(ok for ok, _ in results), results
    assert any("client" in line and "accepted" in line for _, line in results)
    assert any("reaches this machine's web server" in line for _, line in results)


async def test_doctor_reports_a_wrong_client_and_an_unreachable_public_url(
    database: Database, google_fake: FakeGoogle
) -> None:
    settings = _settings(google_fake, google_client_secret="not-the-secret", public_url="http://127.0.0.1:9/")
    failed = [line for ok, line in await google_checks(settings, database) if not ok]
    assert any("GOOGLE_CLIENT_SECRET" in line for line in failed)
    assert any("PUBLIC_URL http://127.0.0.1:9 cannot be reached" in line for line in failed)
    assert all("not-the-secret" not in line for line in failed)


async def test_doctor_reports_a_secret_key_that_does_not_open_stored_tokens(
    database: Database, google_fake: FakeGoogle
) -> None:
    services = build_identity(_settings(google_fake), database)
    assert services.google is not None
    async with database.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO users (display_name, settings, created_at) VALUES ('a', '{}', '2026-01-01 00:00:00')")
        )
        user_id = (await conn.execute(text("SELECT id FROM users"))).scalar_one()
    await services.google.tokens.save(user_id, refresh_token="1//rt", access_token=None, expiry=None, scopes=[])
    rotated_wrongly = _settings(google_fake, secret_key=NEW_KEY + "-without-the-old-one")
    failed = [line for ok, line in await google_checks(rotated_wrongly, database) if not ok]
    assert failed == [
        "stored Google tokens cannot be decrypted with SECRET_KEY: put the previous key in SECRET_KEY_OLD"
    ]
    kept_old = _settings(google_fake, secret_key=NEW_KEY, secret_key_old=[SECRET_KEY])
    assert all(ok for ok, _ in await google_checks(kept_old, database))
    missing = _settings(google_fake, secret_key=None, google_client_id="", allowed_emails=[])
    assert [ok for ok, _ in await google_checks(missing, database)] == [True, False]


async def test_at_start_a_rotated_key_re_encrypts_the_tokens_and_expired_links_are_deleted(
    database: Database, google_fake: FakeGoogle
) -> None:
    then = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    old = build_identity(_settings(google_fake), database, clock=then)
    assert old.google is not None
    async with database.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO users (display_name, settings, created_at) VALUES ('a', '{}', '2026-01-01 00:00:00')")
        )
        user_id = (await conn.execute(text("SELECT id FROM users"))).scalar_one()
    await old.google.tokens.save(user_id, refresh_token="1//rt", access_token="at", expiry=None, scopes=[])
    stranger = PlatformIdentity("discord", "", "666", "eve")
    await old.google.signin.start(stranger)
    await old.google.signin.approval.requests.create(stranger, "ada@example.org")

    # Days later the owner rotates the key: SECRET_KEY new, the old one in SECRET_KEY_OLD, and restarts.
    rotated = _settings(google_fake, secret_key=NEW_KEY, secret_key_old=[SECRET_KEY])
    later = ManualClock(datetime(2026, 6, 5, tzinfo=UTC))
    new = build_identity(rotated, database, clock=later)
    await tidy_at_start(rotated, database, new, clock=later)

    only_new = GoogleTokenStore(database, TokenCipher(NEW_KEY))
    stored = await only_new.load(user_id)
    assert stored is not None and stored.refresh_token == "1//rt" and stored.access_token == "at"
    async with database.engine.connect() as conn:
        for table in ("oauth_states", "link_requests"):
            assert (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table
