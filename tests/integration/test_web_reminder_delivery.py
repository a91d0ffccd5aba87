"""A reminder asked in the web chat arrives in the web chat: live on an open socket, else at the next load.

The real container as `captainslog` builds it with only the OpenAI key (the fake) and
SECRET_KEY: no chat platform, the web app served by uvicorn on a free port, the
reminder scheduler on the injected clock. The person signs in with the link
`captainslog link` prints (their terminal account) and asks in the chat; the model (the
fake) calls ``set_reminder``. Before this, the reminder was retried five times and
dropped: the web was no way out for `speak`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.container import Container
from core.clock import ManualClock
from core.db.database import Database
from core.types import PlatformIdentity
from tests.conftest import TEST_NOW
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
from tests.web_helpers import SECRET_KEY, chat_socket, frames_until, session_cookie

ADA = PlatformIdentity("terminal", "local", "ada", "ada")
REMINDER = "⏰ Reminder: drink water"


@pytest.fixture
async def served(
    tmp_path: Path, database_url: str, database: Database, openai_fake: FakeOpenAI
) -> AsyncIterator[Container]:
    """The container on an empty database (`database` empties PostgreSQL's tables), its web server listening."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "data", database_url=database_url, openai_api_key="sk-test",
        openai_base_url=openai_fake.base_url, openai_max_retries=0, memory_extraction=False,
        daily_summary_time="off", secret_key=SECRET_KEY, web_host="127.0.0.1", web_port=0, terminal_user="ada",
    )  # fmt: skip
    container = await Container.create(settings, clock=ManualClock(TEST_NOW))
    assert container.web is not None and container.webapp is not None and container.reminders is not None
    await container.web.start()
    container.webapp.sessions.public_url = container.web.url
    try:
        yield container
    finally:
        await container.web.stop()
        await container.close()


async def _cookie(container: Container) -> str:
    assert container.webapp is not None and container.web is not None
    return await session_cookie(container.webapp.sessions, container.web, ADA)  # the link `captainslog link` prints


async def _ask(ws: aiohttp.ClientWebSocketResponse, openai_fake: FakeOpenAI) -> None:
    openai_fake.queue(
        ToolCalls([("set_reminder", {"text": "drink water", "in": "1 minute"})]),
        Reply("I will remind you in a minute to drink water."),
    )
    await ws.send_json({"type": "send", "text": "remind me in 1 minute to drink water"})
    assert (await frames_until(ws, "done", "error"))[-1]["type"] == "done"


async def _chat_page(container: Container, cookie: str) -> str:
    assert container.web is not None
    async with httpx.AsyncClient(base_url=container.web.url, cookies={"captainslog_web": cookie}) as client:
        page = await client.get("/chat")
    assert page.status_code == 200
    return page.text


async def _occurrence_states(container: Container) -> list[tuple[str, int]]:
    async with container.db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT state, attempts FROM reminder_occurrences ORDER BY id"))
        return [(r[0], r[1]) for r in rows]


async def test_a_reminder_asked_on_the_web_arrives_once_on_the_open_chat_and_stays_after_a_reload(
    served: Container, openai_fake: FakeOpenAI
) -> None:
    container = served
    assert container.web is not None and container.reminders is not None
    # The terminal chat's process (`captainslog` with no chat platform) sends the web's reminders too.
    scheduled = container.scheduled_services(reachable_only=True)
    assert container.reminders.runner in scheduled and container.reminders.runner.platforms == ("terminal", "web")
    cookie = await _cookie(container)
    async with aiohttp.ClientSession() as session, chat_socket(session, container.web, cookie) as ws:
        await _ask(ws, openai_fake)
        assert await container.reminders.runner.run_due() == 0  # not yet due
        container.clock.advance(minutes=1)  # type: ignore[attr-defined]
        assert await container.reminders.runner.run_due() == 1
        spoken = await frames_until(ws, "spoken")
        assert REMINDER in spoken[-1]["html"]
        container.clock.advance(minutes=10)  # type: ignore[attr-defined]
        assert await container.reminders.runner.run_due() == 0
        # Whatever else comes on the socket before the next answer is done: never the reminder again.
        openai_fake.queue(Reply("Cheers."))
        await ws.send_json({"type": "send", "text": "done, thanks"})
        after = await frames_until(ws, "done", "error")
    assert [f for f in after if f["type"] == "spoken"] == []
    page = await _chat_page(container, cookie)
    assert page.count(REMINDER) == 1
    assert page.index("drink water</p>") < page.index(REMINDER) < page.index("Cheers.")  # in the conversation's order
    assert await _occurrence_states(container) == [("delivered", 1)]


async def test_with_no_chat_open_the_reminder_waits_in_the_history_and_is_not_retried(
    served: Container, openai_fake: FakeOpenAI
) -> None:
    container = served
    assert container.web is not None and container.reminders is not None
    cookie = await _cookie(container)
    async with aiohttp.ClientSession() as session, chat_socket(session, container.web, cookie) as ws:
        await _ask(ws, openai_fake)
    assert REMINDER not in await _chat_page(container, cookie)

    container.clock.advance(minutes=1)  # type: ignore[attr-defined]
    assert await container.reminders.runner.run_due() == 1
    assert await _occurrence_states(container) == [("delivered", 1)]
    container.clock.advance(minutes=10)  # type: ignore[attr-defined]
    assert await container.reminders.runner.run_due() == 0

    assert (await _chat_page(container, cookie)).count(REMINDER) == 1
    assert await _occurrence_states(container) == [("delivered", 1)]


async def test_the_web_is_a_way_out_only_while_the_web_app_is_served(served: Container) -> None:
    container = served
    assert container.web is not None
    assert "web" in container.outbox.platforms
    await container.web.stop()
    assert "web" not in container.outbox.platforms
    assert container.scheduled_services(reachable_only=True)
    assert container.reminders is not None and container.reminders.runner.platforms == ("terminal",)


async def test_snooze_pressed_under_a_reminder_in_the_web_chat_brings_it_back_later(
    served: Container, openai_fake: FakeOpenAI
) -> None:
    container = served
    assert container.web is not None and container.reminders is not None
    runner = container.reminders.runner
    cookie = await _cookie(container)
    async with aiohttp.ClientSession() as session, chat_socket(session, container.web, cookie) as ws:
        await _ask(ws, openai_fake)
        container.clock.advance(minutes=1)  # type: ignore[attr-defined]
        assert await runner.run_due() == 1
        first = (await frames_until(ws, "spoken"))[-1]
        labels = {b["label"]: b["action"] for b in first["buttons"]}
        assert {"Done", "Snooze 20 min", "Reschedule"} <= set(labels)

        await ws.send_json({"type": "press", "action": labels["Snooze 20 min"]})
        pressed = (await frames_until(ws, "pressed", "error"))[-1]
        assert pressed["type"] == "pressed" and pressed["action"] == labels["Snooze 20 min"] and pressed["text"]
        container.clock.advance(minutes=19)  # type: ignore[attr-defined]
        assert await runner.run_due() == 0
        container.clock.advance(minutes=1)  # type: ignore[attr-defined]
        assert await runner.run_due() == 1
        again = (await frames_until(ws, "spoken"))[-1]
    assert REMINDER in again["html"]
    assert (await _chat_page(container, cookie)).count(REMINDER) == 2


async def test_a_button_of_another_kind_or_a_stranger_action_does_nothing(
    served: Container, openai_fake: FakeOpenAI
) -> None:
    container = served
    assert container.web is not None
    cookie = await _cookie(container)
    async with aiohttp.ClientSession() as session, chat_socket(session, container.web, cookie) as ws:
        await ws.send_json({"type": "press", "action": "not-ours"})
        refused = (await frames_until(ws, "pressed", "error"))[-1]
    assert refused == {"type": "error", "message": "That button does nothing here."}


async def test_a_tab_left_open_after_signing_out_everywhere_gets_no_reminder(
    served: Container, openai_fake: FakeOpenAI
) -> None:
    """Signing out everywhere (a shared or lost computer left signed in) ends what its open chat tab is shown:
    the reminder is kept for the next sign-in, and no open tab of the signed-out session shows its text."""
    container = served
    assert container.web is not None and container.reminders is not None and container.webapp is not None
    cookie = await _cookie(container)
    async with aiohttp.ClientSession() as session, chat_socket(session, container.web, cookie) as ws:
        await _ask(ws, openai_fake)
        person = await container.webapp.sessions.session(cookie)
        assert person is not None
        await container.webapp.sessions.sign_out_everywhere(person.id)  # from another browser
        container.clock.advance(minutes=1)  # type: ignore[attr-defined]
        assert await container.reminders.runner.run_due() == 1
        openai_fake.queue(Reply("not for you"))
        await ws.send_json({"type": "send", "text": "still there?"})  # the socket learns it is signed out
        after = await frames_until(ws, "error")
    assert [f for f in after if f["type"] == "spoken"] == [], "the signed-out tab was shown the reminder"
    assert after[-1]["message"].startswith("You are signed out")
    assert await _occurrence_states(container) == [("delivered", 1)]  # kept in the history for a new sign-in
