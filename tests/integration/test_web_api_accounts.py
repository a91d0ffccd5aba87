"""The API's side of the Accounts and Access tokens pages, through the real app (httpx) and the Google fake:
linked accounts (unlink, never the last), Google connect and disconnect, the Drive folder, personal access
tokens; another person's ids answer 404, and the session needs the CSRF header where a token does not."""

from __future__ import annotations

import pytest

from core.daily.prefs import DRIVE_FOLDER, DRIVE_FOLDER_NAME
from core.db.database import Database
from core.google.drive import DriveClient
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from core.types import PlatformIdentity
from tests.conftest import TEST_NOW
from tests.fakes.google_server import FakeGoogle
from tests.google_helpers import GoogleKit, _google_server, google_fake  # noqa: F401
from tests.web_helpers import (
    ADA,
    BOB,
    DISCORD,
    ORIGIN,
    WebKit,
    accounts_kit,
    ada_on_two_accounts_and_bob,
    app_and_google_client,
    csrf_of,
)


@pytest.fixture
async def kit(database: Database, model: OpenAIModel, google_fake: FakeGoogle) -> tuple[WebKit, GoogleKit]:  # noqa: F811
    return accounts_kit(database, model, google_fake)


@pytest.fixture
async def linked(kit: tuple[WebKit, GoogleKit]) -> tuple[WebKit, GoogleKit, int, dict[str, str]]:
    """Ada's account linked to ada@example.org, and the header of a personal access token of hers."""
    web, google = kit
    ada = await AccountLinker(web.db).link(ADA, "ada@example.org")
    return web, google, ada, await bearer(web)


async def bearer(kit: WebKit, who: PlatformIdentity = ADA) -> dict[str, str]:
    """The header of a new personal access token of ``who``."""
    return {"authorization": f"Bearer {await kit.tokens.create(await kit.user_id(who), who, 'script')}"}


async def test_the_api_unlinks_an_account_but_never_the_last_nor_anothers(kit: tuple[WebKit, GoogleKit]) -> None:
    web, _ = kit
    await ada_on_two_accounts_and_bob(web)
    token = await bearer(web)
    async with web.signed_in(ADA) as client:
        csrf = {"x-csrf-token": csrf_of((await client.get("/connections")).text)}
        listed = (await client.get("/api/v1/accounts")).json()
        without_csrf = await client.delete(f"/api/v1/accounts/{DISCORD.key}")
        bobs = await client.delete(f"/api/v1/accounts/{BOB.key}", headers=csrf)
        unlinked = await client.delete(f"/api/v1/accounts/{DISCORD.key}", headers=csrf)
        page = await client.get("/connections")
    async with web.client() as script:
        last = await script.delete(f"/api/v1/accounts/{ADA.key}", headers=token)  # a token needs no CSRF
        after = (await script.get("/api/v1/accounts", headers=token)).json()
    assert sorted((a["id"], a["platform"], a["name"], a["current"]) for a in listed) == [
        ("discord::111", "discord", "Discord user ada#1 (111)", False),
        ("test:w1:ada", "test", "Test user Ada (ada)", True),
    ]
    assert without_csrf.status_code == 403 and bobs.status_code == 404
    assert unlinked.status_code == 204 and "Discord user" not in page.text  # the page sees the same accounts
    assert last.status_code == 409 and "only account" in last.json()["detail"]
    assert [a["id"] for a in after] == ["test:w1:ada"]
    assert await web.chat.people.accounts_of(await web.user_id(BOB)) == [BOB]


async def test_the_api_connects_google_picks_a_drive_folder_and_disconnects(
    linked: tuple[WebKit, GoogleKit, int, dict[str, str]],
) -> None:
    web, google, ada, token = linked
    # One client for the app (in process) and Google's fake (on loopback): it opens the link as a browser would.
    async with app_and_google_client(web) as client:
        before = (await client.get(f"{ORIGIN}/api/v1/google", headers=token)).json()
        no_folders = await client.get(f"{ORIGIN}/api/v1/drive-folders", headers=token)
        link = (await client.post(f"{ORIGIN}/api/v1/google/connect", headers=token)).json()["link"]
        opened = await client.get(link, follow_redirects=True)
        connected = (await client.get(f"{ORIGIN}/api/v1/google", headers=token)).json()
        drive = DriveClient(google.api)
        sails = await drive.ensure_folder(ada, folder_id=None, name="Sailing logs")
        races = await drive.ensure_folder(ada, folder_id=None, name="Race results")
        listed = (await client.get(f"{ORIGIN}/api/v1/drive-folders", headers=token)).json()
        unknown = await client.put(f"{ORIGIN}/api/v1/drive-folder", json={"id": "not-a-folder"}, headers=token)
        chosen = await client.put(f"{ORIGIN}/api/v1/drive-folder", json={"id": races.id}, headers=token)
        now = (await client.get(f"{ORIGIN}/api/v1/drive-folders", headers=token)).json()
        gone = await client.delete(f"{ORIGIN}/api/v1/google", headers=token)
        after = (await client.get(f"{ORIGIN}/api/v1/google", headers=token)).json()
    assert before == {"configured": True, "status": "not_connected"} and no_folders.status_code == 409
    assert link.startswith(f"{ORIGIN}/signin/")
    assert opened.status_code == 200 and "Google Drive and Calendar are connected" in opened.text
    assert connected == {"configured": True, "status": "connected"}
    assert listed["chosen"] is None
    assert [(f["id"], f["name"]) for f in listed["folders"]] == [(races.id, "Race results"), (sails.id, "Sailing logs")]
    assert unknown.status_code == 404
    assert chosen.status_code == 200 and chosen.json() == {"id": races.id, "name": "Race results"}
    assert now["chosen"] == {"id": races.id, "name": "Race results"}
    settings = await Profiles(web.db).settings(ada)
    assert (settings[DRIVE_FOLDER], settings[DRIVE_FOLDER_NAME]) == (races.id, "Race results")
    assert gone.status_code == 204 and after == {"configured": True, "status": "not_connected"}
    assert await google.store.load(ada) is None


async def test_drive_refusing_the_token_answers_503_with_what_to_do(
    linked: tuple[WebKit, GoogleKit, int, dict[str, str]],
) -> None:
    web, google, ada, token = linked
    await google.store.save(
        ada, refresh_token="1//never-issued", access_token=None, expiry=None,
        scopes=("https://www.googleapis.com/auth/drive.file",),
    )  # fmt: skip
    async with web.client() as script:
        listed = await script.get("/api/v1/drive-folders", headers=token)
        chosen = await script.put("/api/v1/drive-folder", json={"id": "any"}, headers=token)
    assert listed.status_code == 503 and "connect Google again" in listed.json()["detail"]
    assert chosen.status_code == 503 and DRIVE_FOLDER not in await Profiles(web.db).settings(ada)


async def test_the_api_makes_lists_and_revokes_only_the_callers_tokens(kit: tuple[WebKit, GoogleKit]) -> None:
    web, _ = kit
    bob = await web.user_id(BOB)
    bobs_token = await bearer(web, BOB)
    bobs_id = (await web.tokens.list(bob))[0].id
    async with web.signed_in(ADA) as client:
        csrf = {"x-csrf-token": csrf_of((await client.get("/tokens")).text)}
        without_csrf = await client.post("/api/v1/tokens", json={"name": "laptop"})
        made = await client.post("/api/v1/tokens", json={"name": "  laptop   script "}, headers=csrf)
        listed = (await client.get("/api/v1/tokens")).json()
        page = await client.get("/tokens")
        bobs = await client.delete(f"/api/v1/tokens/{bobs_id}", headers=csrf)
    new = made.json()
    token = {"authorization": f"Bearer {new['token']}"}
    web.clock.advance(seconds=60)
    async with web.client() as script:
        used = (await script.get("/api/v1/tokens", headers=token)).json()
        revoked = await script.delete(f"/api/v1/tokens/{new['id']}", headers=token)  # a token revokes itself
        refused = await script.get("/api/v1/tokens", headers=token)
        bob_still = await script.get("/api/v1/tokens", headers=bobs_token)
    assert without_csrf.status_code == 403 and made.status_code == 201
    assert new["token"].startswith("clt_") and new["name"] == "laptop script"
    assert new["created_at"] == TEST_NOW.isoformat() and new["last_used_at"] is None
    assert listed == [{k: v for k, v in new.items() if k != "token"}]  # never the token again
    assert "laptop script" in page.text and new["token"] not in page.text
    assert bobs.status_code == 404 and bob_still.status_code == 200
    assert used[0]["last_used_at"] is not None
    assert revoked.status_code == 204 and refused.status_code == 401


async def test_the_openapi_document_and_docs_page_describe_the_accounts_operations(
    kit: tuple[WebKit, GoogleKit],
) -> None:
    web, _ = kit
    async with web.signed_in(ADA) as client:
        schema = (await client.get("/api/v1/openapi.json")).json()
        docs = await client.get("/docs")
    paths = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert {
        ("GET", "/api/v1/accounts"), ("DELETE", "/api/v1/accounts/{account_id}"), ("GET", "/api/v1/google"),
        ("POST", "/api/v1/google/connect"), ("DELETE", "/api/v1/google"), ("GET", "/api/v1/drive-folders"),
        ("PUT", "/api/v1/drive-folder"), ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/{token_id}"),
    } <= paths  # fmt: skip
    assert "/api/v1/drive-folders" in docs.text and "/api/v1/tokens/{token_id}" in docs.text
