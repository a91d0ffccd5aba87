"""The settings page's fields through the API (the real app via httpx): read, changed through the same
registry as the page (one refused value: nothing stored), only the caller's own; CSRF with the session."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.web_helpers import ADA, BOB, WebKit, csrf_of


@pytest.fixture
async def kit(database: Database, model: OpenAIModel) -> WebKit:
    clock = ManualClock(TEST_NOW)
    return WebKit(database, make_chat_service(database, model, clock=clock), model, clock, public_url="https://x.org")


async def test_the_api_reads_and_changes_the_settings_as_the_page_does(kit: WebKit) -> None:
    bob = await kit.user_id(BOB)
    token = {"authorization": f"Bearer {await kit.tokens.create(await kit.user_id(ADA), ADA, 'script')}"}
    async with kit.signed_in(ADA) as client:
        csrf = {"x-csrf-token": csrf_of((await client.get("/tokens")).text)}
        listed = (await client.get("/api/v1/settings")).json()
        without_csrf = await client.patch("/api/v1/settings", json={"timezone": "Europe/Paris"})
        refused = await client.patch(
            "/api/v1/settings", json={"name": "Ada Changed", "timezone": "Mars/Olympus"}, headers=csrf
        )
        unknown = await client.patch("/api/v1/settings", json={"shoe_size": "38"}, headers=csrf)
        changed = await client.patch(
            "/api/v1/settings", json={"name": "Ada L.", "timezone": "america/new_york", "voice": "on"}, headers=csrf
        )
        page = await client.get("/settings")
    async with kit.client() as script:
        by_token = await script.patch("/api/v1/settings", json={"daily_time": "21h15"}, headers=token)
        again = (await script.get("/api/v1/settings", headers=token)).json()
    fields = {f["name"]: f for f in listed}
    assert {"timezone", "name", "daily_time", "voice", "previews"} <= set(fields)
    assert [c["value"] for c in fields["voice"]["choices"]] == ["off", "on"] and fields["voice"]["value"] == "off"
    assert without_csrf.status_code == 403
    assert refused.status_code == 422 and "“Mars/Olympus” is not a time zone I know" in " ".join(
        refused.json()["detail"]
    )
    assert unknown.status_code == 422 and unknown.json()["detail"] == ["No setting is called 'shoe_size'."]
    assert changed.status_code == 200 and "Time zone set to America/New_York." in changed.json()["saved"]
    assert {f["name"]: f["value"] for f in changed.json()["settings"]}["timezone"] == "America/New_York"
    assert 'value="America/New_York"' in page.text and 'value="Ada L."' in page.text  # the page sees the same
    assert by_token.status_code == 200 and {f["name"]: f["value"] for f in again}["daily_time"] == "21:15"
    ada = await kit.chat.people.profile(await kit.user_id(ADA))
    assert ada is not None and (ada.display_name, ada.timezone, ada.settings["voice"]) == (
        "Ada L.",
        "America/New_York",
        "on",
    )
    untouched = await kit.chat.people.profile(bob)
    assert untouched is not None and untouched.timezone is None and "voice" not in untouched.settings


async def test_the_openapi_document_describes_the_settings_operations(kit: WebKit) -> None:
    async with kit.signed_in(ADA) as client:
        paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert {"get", "patch"} <= set(paths["/api/v1/settings"])
