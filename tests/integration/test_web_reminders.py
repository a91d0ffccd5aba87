"""The Reminders page and /api/v1/reminders through the real app (httpx): the list with next time in the
reminder's zone, recurrence in words and where it goes; Cancel, Pause/Resume and Snooze on the page (forms
with the CSRF token) and in the API (session + X-CSRF-Token, or a personal access token); another person's
reminder answers 404 on every route."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.clock import ManualClock
from core.commands import CommandRequest
from core.db.database import Database
from core.llm import OpenAIModel
from core.reminders.actions import ReminderActions
from core.reminders.commands import ReminderCommands
from core.reminders.store import ReminderRecord, ReminderStore
from core.reminders.times import Schedule
from core.types import ConversationRef, PlatformIdentity
from tests.conftest import TEST_NOW, make_chat_service
from tests.web_helpers import ADA, BOB, WebKit, csrf_of

LISBON = ZoneInfo("Europe/Lisbon")
HERE = ConversationRef("test", "w1", "ada")  # where /reminders is typed
WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


class Kit:
    """The web app with the reminders of Ada (a one-off to Discord, a weekday one to the web) and one of Bob."""

    def __init__(self, web: WebKit, store: ReminderStore) -> None:
        self.web = web
        self.store = store
        self.pokes: list[None] = []  # each change wakes the scheduler
        self.actions = ReminderActions(store, clock=web.clock, changed=lambda: self.pokes.append(None))
        web.app.state.webapp = replace(web.app.state.webapp, reminders=self.actions)

    async def add(self, who: PlatformIdentity, text: str, start: datetime, platform: str, rule: str | None = None
                  ) -> ReminderRecord:  # fmt: skip
        return await self.store.create(
            user_id=await self.web.user_id(who), text=text, schedule=Schedule(start, LISBON, rule), platform=platform
        )

    async def three(self) -> tuple[ReminderRecord, ReminderRecord, ReminderRecord]:
        """Ada's one-off to Discord and weekday one to the web, and Bob's one to Slack."""
        return (
            await self.add(ADA, "call Ana", datetime(2026, 11, 27, 10, 0), "discord"),
            await self.add(ADA, "ask me for my top three", datetime(2026, 11, 25, 8, 30), "web", WEEKDAYS),
            await self.add(BOB, "Bob's secret plan", datetime(2026, 11, 26, 9, 0), "slack"),
        )

    async def ada_token(self) -> dict[str, str]:
        """The header of a personal access token of Ada's (a script: no CSRF)."""
        return {"authorization": f"Bearer {await self.web.tokens.create(await self.web.user_id(ADA), ADA, 'script')}"}

    async def state(self, reminder: ReminderRecord) -> str:
        found = await self.store.get(reminder.id)
        assert found is not None
        return found.state


@pytest.fixture
async def kit(database: Database, model: OpenAIModel) -> Kit:
    clock = ManualClock(TEST_NOW)  # Tuesday 24 November 2026, 12:00 UTC (12:00 in Lisbon)
    web = WebKit(database, make_chat_service(database, model, clock=clock), model, clock, public_url="https://t")
    return Kit(web, web.reminders)


async def test_the_page_lists_reminders_and_cancels_pauses_resumes_and_snoozes_them(kit: Kit) -> None:
    ana, top, bobs = await kit.three()
    async with kit.web.signed_in(ADA) as client:
        listed = await client.get("/reminders")
        csrf = csrf_of(listed.text)
        stale = await client.post(f"/reminders/{ana.id}/cancel", data={"csrf": "wrong"})
        bobs_tried = [
            (await client.post(f"/reminders/{bobs.id}/{a}", data={"csrf": csrf, "for": "1h"})).status_code
            for a in ("cancel", "pause", "resume", "snooze")
        ]
        unknown_action = await client.post(f"/reminders/{ana.id}/delete", data={"csrf": csrf})
        paused = await client.post(f"/reminders/{top.id}/pause", data={"csrf": csrf}, follow_redirects=True)
        pause_again = await client.post(f"/reminders/{top.id}/pause", data={"csrf": csrf})
        resumed = await client.post(f"/reminders/{top.id}/resume", data={"csrf": csrf}, follow_redirects=True)
        snoozed = await client.post(f"/reminders/{ana.id}/snooze", data={"csrf": csrf, "for": "1h"},
                                    follow_redirects=True)  # fmt: skip
        cancelled = await client.post(f"/reminders/{ana.id}/cancel", data={"csrf": csrf}, follow_redirects=True)
    page = listed.text
    assert '<a href="/reminders" aria-current="page">Reminders</a>' in page
    assert "<strong>call Ana</strong>" in page and "Friday 27 November, 10:00 Lisbon time (Europe/Lisbon)" in page
    assert "Once · sent to your Discord DM" in page
    assert "ask me for my top three" in page and "Wednesday 25 November, 08:30 Lisbon time" in page
    assert "Every weekday · sent to the web chat" in page
    assert f'action="/reminders/{top.id}/pause"' in page and "Bob" not in page
    assert stale.status_code == 403 and "nothing changed" in stale.text
    assert bobs_tried == [404] * 4 and unknown_action.status_code == 404
    assert await kit.state(bobs) == "active"
    assert "The reminder was paused." in paused.text and f'action="/reminders/{top.id}/resume"' in paused.text
    assert pause_again.status_code == 409 and "cannot be paused now" in pause_again.text
    assert "The reminder was resumed." in resumed.text and await kit.state(top) == "active"
    assert "The reminder was snoozed." in snoozed.text and "Tuesday 24 November, 13:00 Lisbon time" in snoozed.text
    assert "The reminder was cancelled." in cancelled.text and f'id="reminder-{ana.id}"' not in cancelled.text
    assert await kit.state(ana) == "cancelled"
    assert len(kit.pokes) == 4  # pause, resume, snooze, cancel: each woke the scheduler; refusals did not


async def test_the_page_and_the_reminders_command_see_the_same_changes(kit: Kit) -> None:
    top = await kit.add(ADA, "ask me for my top three", datetime(2026, 11, 25, 8, 30), "web", WEEKDAYS)
    command = ReminderCommands(kit.store, user_of=kit.web.user_id, clock=kit.web.clock, changed=lambda: None)
    await command.reminders(CommandRequest(ADA, HERE, {"action": f"pause {top.id}"}))
    async with kit.web.signed_in(ADA) as client:
        page = await client.get("/reminders")
    listed = await command.reminders(CommandRequest(ADA, HERE, {"action": ""}))
    assert "Paused: no time until resumed" in page.text and f'action="/reminders/{top.id}/resume"' in page.text
    assert "[paused]" in listed.text


async def test_the_api_lists_and_changes_reminders_and_answers_404_for_anothers(kit: Kit) -> None:
    ana, top, bobs = await kit.three()
    token = await kit.ada_token()
    async with kit.web.signed_in(ADA) as client:
        csrf = {"x-csrf-token": csrf_of((await client.get("/reminders")).text)}
        listed = (await client.get("/api/v1/reminders")).json()
        without_csrf = await client.post(f"/api/v1/reminders/{top.id}/pause")
        paused = await client.post(f"/api/v1/reminders/{top.id}/pause", headers=csrf)
        pause_again = await client.post(f"/api/v1/reminders/{top.id}/pause", headers=csrf)
        bobs_by_session = [
            (await client.get(f"/api/v1/reminders/{bobs.id}")).status_code,
            *[(await client.post(f"/api/v1/reminders/{bobs.id}/{a}", headers=csrf)).status_code
              for a in ("cancel", "pause", "resume", "snooze")],
        ]  # fmt: skip
    async with kit.web.client() as script:  # a token needs no CSRF
        resumed = await script.post(f"/api/v1/reminders/{top.id}/resume", headers=token)
        snoozed = await script.post(f"/api/v1/reminders/{ana.id}/snooze", headers=token, json={"for": "morning"})
        unreadable = await script.post(f"/api/v1/reminders/{ana.id}/snooze", headers=token, json={"for": "soonish"})
        cancelled = await script.post(f"/api/v1/reminders/{ana.id}/cancel", headers=token)
        one = await script.get(f"/api/v1/reminders/{ana.id}", headers=token)
        bobs_by_token = [
            (await script.get(f"/api/v1/reminders/{bobs.id}", headers=token)).status_code,
            *[(await script.post(f"/api/v1/reminders/{bobs.id}/{a}", headers=token)).status_code
              for a in ("cancel", "pause", "resume", "snooze")],
        ]  # fmt: skip
        after = (await script.get("/api/v1/reminders", headers=token)).json()
        anonymous = await script.get("/api/v1/reminders")
        documented = (await script.get("/api/v1/openapi.json")).json()["paths"]
    assert [(r["text"], r["next"], r["next_at"], r["timezone"], r["recurrence"], r["sent_to"], r["state"])
            for r in listed] == [
        ("ask me for my top three", "Wednesday 25 November, 08:30 Lisbon time", "2026-11-25T08:30:00+00:00",
         "Europe/Lisbon", "every weekday", "the web chat", "active"),
        ("call Ana", "Friday 27 November, 10:00 Lisbon time", "2026-11-27T10:00:00+00:00", "Europe/Lisbon", "once",
         "your Discord DM", "active"),
    ]  # fmt: skip
    assert without_csrf.status_code == 403
    assert paused.status_code == 200 and paused.json()["state"] == "paused" and paused.json()["next"] is None
    assert pause_again.status_code == 409
    assert bobs_by_session == [404] * 5 and bobs_by_token == [404] * 5 and await kit.state(bobs) == "active"
    assert resumed.json()["state"] == "active" and resumed.json()["next_at"] == "2026-11-25T08:30:00+00:00"
    assert snoozed.json()["next_at"] == "2026-11-25T09:00:00+00:00"  # tomorrow morning, Lisbon time
    assert unreadable.status_code == 409 and "soonish" in unreadable.json()["detail"]
    assert cancelled.json()["state"] == "cancelled" and one.json()["state"] == "cancelled"
    assert [r["text"] for r in after] == ["ask me for my top three"]
    assert anonymous.status_code == 401
    assert "/api/v1/reminders/{reminder_id}/pause" in documented


async def test_without_reminders_the_page_and_the_api_say_so(kit: Kit) -> None:
    kit.web.app.state.webapp = replace(kit.web.app.state.webapp, reminders=None)
    async with kit.web.signed_in(ADA) as client:
        page = await client.get("/reminders", headers={"accept": "text/html"})
        api = await client.get("/api/v1/reminders")
    assert page.status_code == 404 and "Reminders are not set up" in page.text
    assert api.status_code == 404 and api.json()["detail"] == "Reminders are not set up on this assistant."


async def test_a_reminders_text_and_time_are_changed_on_the_page_and_in_the_api(kit: Kit) -> None:
    ana, top, bobs = await kit.three()
    token = await kit.ada_token()
    async with kit.web.signed_in(ADA) as client:
        page = await client.get("/reminders")
        csrf = csrf_of(page.text)
        # The form sends the time it shows: only the text changes, the time stays.
        renamed = await client.post(f"/reminders/{ana.id}/edit", data={"csrf": csrf, "text": "call Ana about the trip",
                                    "at": "2026-11-27T10:00"}, follow_redirects=True)  # fmt: skip
        moved = await client.post(f"/reminders/{top.id}/edit", data={"csrf": csrf, "text": "ask me for my top three",
                                  "at": "2026-11-25T09:15"}, follow_redirects=True)  # fmt: skip
        past = await client.post(f"/reminders/{ana.id}/edit", data={"csrf": csrf, "at": "2026-11-20T10:00"})
        bobs_page = await client.post(f"/reminders/{bobs.id}/edit", data={"csrf": csrf, "text": "mine now"})
    async with kit.web.client() as script:
        once = await script.patch(f"/api/v1/reminders/{top.id}", json={"recurrence": "none"}, headers=token)
        bobs_api = await script.patch(f"/api/v1/reminders/{bobs.id}", json={"text": "mine now"}, headers=token)
        nothing = await script.patch(f"/api/v1/reminders/{ana.id}", json={}, headers=token)

    assert 'type="datetime-local"' in page.text and 'value="2026-11-27T10:00"' in page.text
    assert "The reminder was changed." in renamed.text and "call Ana about the trip" in renamed.text
    after = await kit.store.get(ana.id)
    assert after is not None and (after.text, after.next_local) == ("call Ana about the trip", "2026-11-27T10:00:00")
    assert "The reminder was changed." in moved.text
    assert past.status_code == 409 and "already passed" in past.text
    assert bobs_page.status_code == 404 and bobs_api.status_code == 404
    assert (await kit.store.get(bobs.id)).text == "Bob's secret plan"  # type: ignore[union-attr]
    assert once.status_code == 200 and once.json()["rrule"] is None and once.json()["local"] == "2026-11-25T09:15"
    assert nothing.status_code == 409
    assert len(kit.pokes) == 3  # each stored change woke the scheduler
