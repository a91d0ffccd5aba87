"""'Make it again' on the web app's daily logs: a fresh summary and PDF for the day, the same Drive file given
the new PDF, nothing posted again; the owner's days only, with the form's CSRF token; a failure keeps the old.

The real DailyJob (summary by the fake model, PDF by WeasyPrint), Drive through google-api-python-client
against the Google fake.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.webapp_wiring import day_pdf_of
from core.clock import ManualClock
from core.daily.claim import DailyLogRepository
from core.daily.job import DayOutcome
from core.daily.remake import DayRemake
from core.db.database import Database
from core.llm import OpenAIModel
from tests.conftest import TEST_NOW, make_chat_service
from tests.daily_helpers import RecordingMessenger, connect_google, daily_process
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import Error, FakeOpenAI, Reply
from tests.google_helpers import GoogleKit, _google_server, google_fake  # noqa: F401
from tests.memory_helpers import add_conversation, add_message
from tests.web_helpers import ADA, BOB, WebKit, csrf_of

DAY = date(2026, 11, 23)


@pytest.fixture
async def kit(database: Database, model: OpenAIModel) -> WebKit:
    clock = ManualClock(TEST_NOW)
    return WebKit(
        database, make_chat_service(database, model, clock=clock), model, clock, public_url="https://bot.example.org"
    )


async def _a_posted_day(kit: WebKit, model: OpenAIModel, fake: FakeGoogle, openai_fake: FakeOpenAI, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Ada's day, closed by the real job: summarised, rendered, uploaded to Drive and posted to her account."""
    google = GoogleKit(kit.db, fake)
    ada = await kit.user_id(ADA)
    await connect_google(kit.db, fake, google, ada, "ada@example.org")
    conversation = await add_conversation(
        kit.db, ada, "discord", "dm", datetime(2026, 11, 23, 9, tzinfo=TEST_NOW.tzinfo)
    )
    await add_message(
        kit.db,
        conversation,
        "user",
        "Rigged the jib for the regatta",
        datetime(2026, 11, 23, 10, tzinfo=TEST_NOW.tzinfo),
        ada,
    )
    messenger = RecordingMessenger("test")  # Ada's account
    process = daily_process(kit.db, model, kit.clock, messengers=[messenger], pdf_dir=tmp_path / "pdfs", kit=google)
    openai_fake.queue(Reply("A day of rigging."))
    assert await process.job.run(ada, DAY) == DayOutcome.DONE
    kit.app.state.webapp.remake = DayRemake(process.job)
    kit.app.state.webapp.day_pdf = day_pdf_of(kit.db, process)  # type: ignore[arg-type]
    return ada, messenger


async def _row(kit: WebKit, ada: int) -> tuple:
    async with kit.db.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT state, summary, drive_file_id, claimed_at FROM daily_logs WHERE user_id = :u AND day = :d"),
            {"u": ada, "d": DAY},
        )
        return tuple(found.one())


async def test_make_it_again_writes_a_new_summary_and_pdf_into_the_same_drive_file(
    kit: WebKit,
    model: OpenAIModel,
    google_fake: FakeGoogle,  # noqa: F811
    openai_fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    ada, messenger = await _a_posted_day(kit, model, google_fake, openai_fake, tmp_path)
    (file_id,) = [i for i, f in google_fake.files.items() if f["mimeType"] == "application/pdf"]
    first_pdf = google_fake.file_data[file_id]
    openai_fake.queue(Reply("Rigging, then **the regatta** plan."))
    async with kit.signed_in(ADA) as client:
        page = await client.get("/daily")
        stale = await client.post(f"/daily/{DAY}/again", data={"csrf": "not-this-one"})
        again = await client.post(f"/daily/{DAY}/again", data={"csrf": csrf_of(page.text)})
        assert again.status_code == 303, again.text
        shown = await client.get(again.headers["location"])
        pdf = await client.get(f"/daily/{DAY}.pdf")
    assert "Make it again" in page.text and stale.status_code == 403
    assert again.status_code == 303 and again.headers["location"] == f"/daily?remade={DAY}"
    assert f"The log of {DAY} was made again" in shown.text and "<strong>the regatta</strong>" in shown.text
    state, summary, drive_file, claimed = await _row(kit, ada)
    assert (state, summary, drive_file, claimed) == ("posted", "Rigging, then **the regatta** plan.", file_id, None)
    pdfs = [i for i, f in google_fake.files.items() if f["mimeType"] == "application/pdf"]
    assert pdfs == [file_id]  # the same file, no second one
    new_pdf = google_fake.file_data[file_id]
    assert new_pdf != first_pdf and new_pdf.startswith(b"%PDF") and pdf.content == new_pdf
    assert len(messenger.posts) == 1  # nothing posted again


async def test_another_persons_day_is_404_and_a_failed_summary_keeps_the_old(
    kit: WebKit,
    model: OpenAIModel,
    google_fake: FakeGoogle,  # noqa: F811
    openai_fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    ada, _ = await _a_posted_day(kit, model, google_fake, openai_fake, tmp_path)
    async with kit.signed_in(BOB) as client:
        page = await client.get("/daily")
        bobs = await client.post(f"/daily/{DAY}/again", data={"csrf": csrf_of(page.text)})
    assert bobs.status_code == 404
    for _ in range(3):  # the client's retries too
        openai_fake.queue(Error(500, "the model is down"))
    async with kit.signed_in(ADA) as client:
        page = await client.get("/daily")
        failed = await client.post(f"/daily/{DAY}/again", data={"csrf": csrf_of(page.text)})
    assert failed.status_code == 409 and "The summary could not be written now" in failed.text
    state, summary, _, claimed = await _row(kit, ada)
    assert (state, summary, claimed) == ("posted", "A day of rigging.", None)  # kept, and the day let go


async def test_a_day_already_being_made_again_is_not_made_twice(
    kit: WebKit,
    model: OpenAIModel,
    google_fake: FakeGoogle,  # noqa: F811
    openai_fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    ada, _ = await _a_posted_day(kit, model, google_fake, openai_fake, tmp_path)
    other = DailyLogRepository(kit.db, worker="proc-2")  # another process is making it again
    async with kit.db.engine.connect() as conn:
        log_id = await conn.scalar(text("SELECT id FROM daily_logs WHERE user_id = :u"), {"u": ada})
    assert await other.hold(log_id, kit.clock())
    async with kit.signed_in(ADA) as client:
        page = await client.get("/daily")
        busy = await client.post(f"/daily/{DAY}/again", data={"csrf": csrf_of(page.text)})
    assert busy.status_code == 409 and "being made right now" in busy.text
    assert (await _row(kit, ada))[1] == "A day of rigging."


async def test_the_api_lists_the_days_and_makes_one_again_with_a_token(
    kit: WebKit,
    model: OpenAIModel,
    google_fake: FakeGoogle,  # noqa: F811
    openai_fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    ada, messenger = await _a_posted_day(kit, model, google_fake, openai_fake, tmp_path)
    token = await kit.tokens.create(ada, ADA, "script")
    bobs = await kit.tokens.create(await kit.user_id(BOB), BOB, "bob's script")
    openai_fake.queue(Reply("Made again through the API."))
    async with kit.client() as client:
        listed = (await client.get("/api/v1/daily-logs", headers={"authorization": f"Bearer {token}"})).json()
        again = await client.post(f"/api/v1/daily-logs/{DAY}/again", headers={"authorization": f"Bearer {token}"})
        foreign = await client.post(f"/api/v1/daily-logs/{DAY}/again", headers={"authorization": f"Bearer {bobs}"})
    assert [(d["day"], d["summary"]) for d in listed] == [(DAY.isoformat(), "A day of rigging.")]
    assert again.status_code == 200 and again.json()["summary"] == "Made again through the API."
    assert again.json()["drive_link"] and foreign.status_code == 404
    assert (await _row(kit, ada))[1] == "Made again through the API." and len(messenger.posts) == 1
