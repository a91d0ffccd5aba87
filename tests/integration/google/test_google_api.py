"""Drive and Calendar through the real google-api-python-client against the loopback Google fake."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert, select, text

from core.db.database import Database
from core.db.models import User
from core.google.api import GoogleApiError
from core.google.calendar import CalendarClient
from core.google.connection import ConnectionStatus, GoogleConnections
from core.google.credentials import GoogleNotConnected, GoogleReconnectNeeded
from core.google.drive import DriveClient
from core.google.oauth import CONNECT_SCOPES, new_code_verifier
from core.google.tokens import GoogleTokenStore, TokenCipher, TokenDecryptError
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import SECRET_KEY, GoogleKit

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\r\n%%EOF\n"
PARIS = "Europe/Paris"


async def _connected(database: Database, fake: FakeGoogle, email: str = "ada@example.org") -> tuple[GoogleKit, int]:
    """A user who went through consent for Drive and Calendar (the real Flow against the fake)."""
    async with database.session() as session, session.begin():
        user_id = (
            await session.execute(insert(User).values(email=email, display_name="Ada", settings={}).returning(User.id))
        ).scalar_one()
    kit = GoogleKit(database, fake)
    fake.consent.email = email
    verifier = new_code_verifier()
    url = kit.oauth.authorization_url(state="s1", code_verifier=verifier, scopes=CONNECT_SCOPES)
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    code = httpx.URL(answer.headers["location"]).params["code"]
    grant = await kit.oauth.exchange(code=code, code_verifier=verifier, scopes=CONNECT_SCOPES)
    assert grant.refresh_token
    await kit.store.save(
        user_id,
        refresh_token=grant.refresh_token,
        access_token=grant.access_token,
        expiry=grant.expiry,
        scopes=grant.scopes,
    )
    return kit, user_id


async def test_drive_folder_and_multipart_upload(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    drive = DriveClient(kit.api)
    folder = await drive.ensure_folder(user_id, folder_id=None, name="CaptainsLog")
    assert google_fake.files[folder.id]["mimeType"] == "application/vnd.google-apps.folder"
    # The stored id keeps working after the user renames the folder in Drive.
    google_fake.files[folder.id]["name"] = "Renamed by the user"
    again = await drive.ensure_folder(user_id, folder_id=folder.id, name="CaptainsLog")
    assert again.id == folder.id
    uploaded = await drive.upload_pdf(user_id, folder_id=folder.id, filename="2026-11-30.pdf", data=PDF)
    assert google_fake.file_data[uploaded.id] == PDF
    assert google_fake.files[uploaded.id]["parents"] == [folder.id]
    assert uploaded.web_view_link.startswith("https://drive.google.com/")
    assert any(r.query.get("uploadType") == "multipart" for r in google_fake.requests)


async def test_drive_missing_folder_is_created_again(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    drive = DriveClient(kit.api)
    folder = await drive.ensure_folder(user_id, folder_id="gone-id", name="Logs")
    assert folder.id != "gone-id" and google_fake.files[folder.id]["name"] == "Logs"
    # Found by name among the app's folders rather than made twice.
    assert (await drive.ensure_folder(user_id, folder_id=None, name="Logs")).id == folder.id


async def test_drive_resumable_upload(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    drive = DriveClient(kit.api, resumable_from=1024, chunk_size=256 * 1024)
    data = PDF * 80  # a little over 800 KB: several chunks
    folder = await drive.ensure_folder(user_id, folder_id=None, name="CaptainsLog")
    uploaded = await drive.upload_pdf(user_id, folder_id=folder.id, filename="big.pdf", data=data)
    assert google_fake.file_data[uploaded.id] == data
    puts = [r for r in google_fake.requests if r.method == "PUT"]
    assert len(puts) == 4


async def test_drive_refusal_is_a_clear_error(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    google_fake.api_failure = 403
    with pytest.raises(GoogleApiError, match="refused") as caught:
        await DriveClient(kit.api).ensure_folder(user_id, folder_id=None, name="CaptainsLog")
    assert caught.value.status == 403
    google_fake.api_failure = 500
    with pytest.raises(GoogleApiError, match="try again later"):
        await DriveClient(kit.api).ensure_folder(user_id, folder_id=None, name="CaptainsLog")


async def test_calendar_create_list_move_delete_in_users_zone(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    calendar = CalendarClient(kit.api)
    paris = ZoneInfo(PARIS)
    created = await calendar.create_event(
        user_id,
        title="Dentist",
        start=datetime(2026, 3, 10, 9, 30),
        end=datetime(2026, 3, 10, 10, 0),
        timezone=PARIS,
        description="bring the card",
        attendees=["bob@example.org"],
    )
    assert created.html_link.startswith("https://www.google.com/calendar/event")
    assert created.start == datetime(2026, 3, 10, 9, 30, tzinfo=paris)
    sent = google_fake.events["primary"][created.id]
    assert sent["start"] == {"dateTime": "2026-03-10T09:30:00+01:00", "timeZone": PARIS}
    assert sent["attendees"] == [{"email": "bob@example.org"}]

    day = await calendar.list_events(user_id, start=datetime(2026, 3, 10), end=datetime(2026, 3, 11), timezone=PARIS)
    assert [(e.title, e.start.hour, e.start.minute, e.html_link) for e in day] == [
        ("Dentist", 9, 30, created.html_link)
    ]
    assert (
        await calendar.list_events(user_id, start=datetime(2026, 3, 11), end=datetime(2026, 3, 12), timezone=PARIS)
        == []
    )

    busy = await calendar.free_busy(user_id, start=datetime(2026, 3, 10), end=datetime(2026, 3, 11), timezone=PARIS)
    assert [(b.start, b.end) for b in busy] == [
        (datetime(2026, 3, 10, 9, 30, tzinfo=paris), datetime(2026, 3, 10, 10, 0, tzinfo=paris))
    ]

    moved = await calendar.update_event(
        user_id, created.id, timezone=PARIS, start=datetime(2026, 3, 10, 11, 0), end=datetime(2026, 3, 10, 11, 30)
    )
    assert (moved.start.hour, moved.title) == (11, "Dentist")
    await calendar.delete_event(user_id, created.id)
    assert (
        await calendar.list_events(user_id, start=datetime(2026, 3, 10), end=datetime(2026, 3, 11), timezone=PARIS)
        == []
    )

    with pytest.raises(ValueError, match="end after it starts"):
        await calendar.create_event(
            user_id, title="x", start=datetime(2026, 3, 10, 9), end=datetime(2026, 3, 10, 8), timezone=PARIS
        )


async def test_expired_access_token_is_refreshed_and_saved(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    stored = await kit.store.load(user_id)
    assert stored is not None
    await kit.store.update_access(user_id, "ya29.stale", datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    await CalendarClient(kit.api).list_events(
        user_id, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), timezone=PARIS
    )
    refreshed = await kit.store.load(user_id)
    assert refreshed is not None and refreshed.access_token not in ("ya29.stale", stored.access_token)
    assert any(r.path == "/token" and b"grant_type=refresh_token" in r.body for r in google_fake.requests)


async def test_revoked_refresh_token_asks_to_reconnect_and_marks_broken(
    database: Database, google_fake: FakeGoogle
) -> None:
    kit, user_id = await _connected(database, google_fake)
    google_fake.revoke_all()
    # The access token the fake gave is now refused too, so the client must refresh, and cannot.
    with pytest.raises(GoogleReconnectNeeded):
        await DriveClient(kit.api).ensure_folder(user_id, folder_id=None, name="CaptainsLog")
    stored = await kit.store.load(user_id)
    assert stored is not None and stored.broken
    async with database.session() as session:
        status = (await session.execute(text("SELECT status FROM google_tokens"))).scalar_one()
    assert status == "broken"
    # Later calls fail at once, without asking Google again.
    before = len(google_fake.requests)
    with pytest.raises(GoogleReconnectNeeded):
        await CalendarClient(kit.api).list_events(
            user_id, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), timezone=PARIS
        )
    assert len(google_fake.requests) == before


async def test_not_connected(database: Database, google_fake: FakeGoogle) -> None:
    kit = GoogleKit(database, google_fake)
    with pytest.raises(GoogleNotConnected, match="/connect google"):
        await DriveClient(kit.api).ensure_folder(42, folder_id=None, name="x")


async def test_tokens_are_encrypted_at_rest(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    stored = await kit.store.load(user_id)
    assert stored is not None and stored.refresh_token.startswith("1//rt-")
    async with database.engine.connect() as conn:
        raw = " ".join(str(v) for row in (await conn.execute(text("SELECT * FROM google_tokens"))).all() for v in row)
    assert stored.refresh_token not in raw and str(stored.access_token) not in raw
    assert google_fake.client_secret not in raw
    async with database.session() as session:
        assert (await session.execute(select(User.email))).scalar_one() == "ada@example.org"


async def test_reconnecting_after_a_revocation_works_again(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    google_fake.revoke_all()
    with pytest.raises(GoogleReconnectNeeded):
        await CalendarClient(kit.api).list_events(
            user_id, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), timezone=PARIS
        )
    # Connecting again (a new consent) replaces the broken token.
    verifier = new_code_verifier()
    url = kit.oauth.authorization_url(state="s2", code_verifier=verifier, scopes=CONNECT_SCOPES)
    async with httpx.AsyncClient() as client:
        code = httpx.URL((await client.get(url)).headers["location"]).params["code"]
    grant = await kit.oauth.exchange(code=code, code_verifier=verifier, scopes=CONNECT_SCOPES)
    assert grant.refresh_token is not None
    await kit.store.save(
        user_id, refresh_token=grant.refresh_token, access_token=None, expiry=None, scopes=grant.scopes
    )
    events = await CalendarClient(kit.api).list_events(
        user_id, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), timezone=PARIS
    )
    assert events == []
    assert await GoogleConnections(kit.store, kit.oauth).status(user_id) == ConnectionStatus.CONNECTED


async def test_disconnect_revokes_at_google_and_forgets(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    stored = await kit.store.load(user_id)
    assert stored is not None
    connections = GoogleConnections(kit.store, kit.oauth)
    assert await connections.disconnect(user_id) is True
    assert google_fake.refresh_tokens[stored.refresh_token].revoked
    assert await kit.store.load(user_id) is None
    assert await connections.status(user_id) == ConnectionStatus.NOT_CONNECTED
    assert await connections.disconnect(user_id) is False


async def test_secret_key_rotation(database: Database, google_fake: FakeGoogle) -> None:
    kit, user_id = await _connected(database, google_fake)
    stored = await kit.store.load(user_id)
    assert stored is not None
    rotated = GoogleTokenStore(database, TokenCipher("a-brand-new-key", old_keys=[SECRET_KEY]))
    assert (await rotated.load(user_id)) == stored  # old tokens readable during the rotation
    assert await rotated.rotate_all() == (1, 0)
    only_new = GoogleTokenStore(database, TokenCipher("a-brand-new-key"))
    assert (await only_new.load(user_id)) == stored
    with pytest.raises(TokenDecryptError):
        await kit.store.load(user_id)
