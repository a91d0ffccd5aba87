"""The web app's Accounts page: linked accounts (unlink, never the last), Google connect and disconnect
through the real OAuth flow against the Google fake, and the Drive folder picked among the folders Drive lists."""

from __future__ import annotations

import pytest

from core.daily.prefs import DRIVE_FOLDER, DRIVE_FOLDER_NAME
from core.db.database import Database
from core.google.drive import DriveClient
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit, _google_server, google_fake  # noqa: F401
from tests.signin_site import rows
from tests.web_helpers import (
    ADA,
    BOB,
    DISCORD,
    WebKit,
    accounts_kit,
    ada_on_two_accounts_and_bob,
    app_and_google_client,
    csrf_of,
    sign_in_client,
)


@pytest.fixture
async def kit(database: Database, model: OpenAIModel, google_fake: FakeGoogle) -> tuple[WebKit, GoogleKit]:  # noqa: F811
    return accounts_kit(database, model, google_fake)


async def test_linked_accounts_unlink_one_but_never_the_last(kit: tuple[WebKit, GoogleKit]) -> None:
    web, _ = kit
    await ada_on_two_accounts_and_bob(web)
    async with web.signed_in(ADA) as client:
        page = await client.get("/connections")
        csrf = csrf_of(page.text)
        stale = await client.post("/connections/unlink", data={"csrf": "old", "account": DISCORD.key})
        bobs = await client.post("/connections/unlink", data={"csrf": csrf, "account": BOB.key})
        unlinked = await client.post("/connections/unlink", data={"csrf": csrf, "account": DISCORD.key})
        after = await client.get(unlinked.headers["location"])
        last = await client.post("/connections/unlink", data={"csrf": csrf, "account": ADA.key})
    assert "Discord user ada#1 (111)" in page.text and "Test user Ada (ada)" in page.text
    assert page.text.count(">Unlink<") == 2 and "this browser" in page.text
    assert stale.status_code == 403 and bobs.status_code == 404
    assert unlinked.status_code == 303 and "The account was unlinked." in after.text
    assert ">Unlink<" not in after.text and "Your only account cannot be unlinked." in after.text
    assert last.status_code == 409 and "your only account" in last.text
    assert await rows(web.db, "SELECT platform, platform_user_id FROM identities ORDER BY id") == [
        ("test", "ada"),
        ("test", "bob"),
    ]


async def test_connect_google_pick_a_drive_folder_and_disconnect(
    kit: tuple[WebKit, GoogleKit],
    google_fake: FakeGoogle,  # noqa: F811
) -> None:
    web, google = kit
    ada = await AccountLinker(web.db).link(ADA, "ada@example.org")
    async with app_and_google_client(web) as client:
        await sign_in_client(web, client, ADA)
        before = await client.get("/connections")
        assert "Google is not connected." in before.text
        assert google_fake.url in before.headers["content-security-policy"]  # the form may go on to Google
        connected = await client.post(
            "/connections/google/connect", data={"csrf": csrf_of(before.text)}, follow_redirects=True
        )
        assert connected.status_code == 200 and "Google Drive and Calendar are connected" in connected.text
        empty = await client.get("/connections")
        drive = DriveClient(google.api)
        sails = await drive.ensure_folder(ada, folder_id=None, name="Sailing logs")
        races = await drive.ensure_folder(ada, folder_id=None, name="Race results")
        listed = await client.get("/connections")
        csrf = csrf_of(listed.text)
        chosen = await client.post("/connections/drive-folder", data={"csrf": csrf, "folder": races.id})
        foreign = await client.post("/connections/drive-folder", data={"csrf": csrf, "folder": "not-a-folder"})
        settings = await Profiles(web.db).settings(ada)
        disconnected = await client.post("/connections/google/disconnect", data={"csrf": csrf})
        after = await client.get(disconnected.headers["location"])
    assert "No folder of this assistant in your Drive yet" in empty.text
    assert listed.text.index("Race results") < listed.text.index("Sailing logs")  # listed from Drive, by name
    assert f'value="{sails.id}"' in listed.text
    assert chosen.status_code == 303 and foreign.status_code == 404
    assert (settings[DRIVE_FOLDER], settings[DRIVE_FOLDER_NAME]) == (races.id, "Race results")
    assert disconnected.status_code == 303 and "Google is disconnected" in after.text
    assert await google.store.load(ada) is None


async def test_drive_refusing_the_token_says_so_instead_of_a_list(
    kit: tuple[WebKit, GoogleKit],
    google_fake: FakeGoogle,  # noqa: F811
) -> None:
    web, google = kit
    await AccountLinker(web.db).link(ADA, "ada@example.org")
    async with app_and_google_client(web) as client:
        await sign_in_client(web, client, ADA)
        page = await client.get("/connections")
        await client.post("/connections/google/connect", data={"csrf": csrf_of(page.text)}, follow_redirects=True)
        google_fake.revoke_all()  # e.g. the person removed the app's access in their Google account
        await google.store.save(
            await web.user_id(ADA), refresh_token="1//revoked", access_token=None, expiry=None,
            scopes=("https://www.googleapis.com/auth/drive.file",),
        )  # fmt: skip
        shown = await client.get("/connections")
    assert shown.status_code == 200
    assert "Google refused the stored access: connect Google again to list your folders." in shown.text
