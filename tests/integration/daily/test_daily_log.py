"""The daily log end to end on both databases: the model, Drive (Google fake) and a recording Messenger.

Time is a ManualClock moved past each user's end of day; the runner is what the
scheduler triggers every minute.
"""

from __future__ import annotations

import asyncio
import io
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from core.clock import ManualClock
from core.daily.claim import DailyLogRepository
from core.daily.job import DayOutcome
from core.db.database import Database
from core.db.models import Message, User
from core.google.drive import DriveClient
from core.llm import OpenAIModel
from core.messenger import Delivery
from core.outbound import OutboundPart
from core.types import PlatformIdentity
from tests.daily_helpers import ASSISTANT, People, Process, RecordingMessenger, connect_google, daily_process, png
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_server import Error, FakeOpenAI, Reply
from tests.google_helpers import GoogleKit

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parents[3]  # the checkout, where a child process finds `tests`
DAY = datetime(2026, 11, 24).date()
SUMMARY = "**Discussed**\n- The harbour trip and the blue boat\n\n**To do**\n- Buy rope before Friday"
PDF_NAME = f"{DAY.isoformat()} {ASSISTANT}.pdf"


def paris(hour: int, minute: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS)


def pdf_files(fake: FakeGoogle) -> list[dict]:
    return [f for f in fake.files.values() if f["mimeType"] == "application/pdf"]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_image_colours(data: bytes) -> set[tuple[int, ...]]:
    """The colour of each distinct image in the PDF (pages may share one image's resources)."""
    pages = PdfReader(io.BytesIO(data)).pages
    return {tuple(image.image.convert("RGB").getpixel((5, 5))) for page in pages for image in page.images}


async def _alice_day(people: People) -> tuple[int, int]:
    """Alice's Tuesday on Discord and Slack (with a message from Bob's thread that is not hers)."""
    alice = await people.user("Alice", timezone="Europe/Paris")
    bob = await people.user("Bob", timezone="Europe/Paris")
    # 23:59 UTC on the 23rd is already the 24th in Paris; 00:10 on the 25th is the next day.
    await people.exchange(alice, datetime(2026, 11, 23, 23, 59, tzinfo=UTC), "Night owl note", "Sleep well.")
    await people.exchange(alice, paris(9, 5), "Morning! Plan the harbour trip", "Sure, here is a plan.",
                          image=png((220, 30, 30)))  # fmt: skip
    thread = await people.conversation(bob, "slack", channel="thread")
    await people.exchange(bob, paris(11, 0), "Bob private question", "Answer meant for Bob", conversation_id=thread)
    await people.exchange(alice, paris(11, 2), "Alice asks in Bob thread", "Answer to Alice in the thread",
                          conversation_id=thread)  # fmt: skip
    await people.exchange(alice, paris(13, 0), "Lunch: we decided on the blue boat", "Here is a drawing of it.",
                          platform="slack", answer_image=png((30, 160, 60)))  # fmt: skip
    await people.exchange(alice, paris(20, 45), "Remind me to buy rope", "Noted: buy rope.", platform="slack")
    await people.exchange(alice, paris(0, 10, day=25), "After midnight already", "Good night.", platform="slack")
    return alice, bob


async def test_end_of_day_makes_one_summary_one_drive_file_and_one_dm_post(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    people = People(database)
    alice, bob = await _alice_day(people)
    kit = GoogleKit(database, google_fake)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    folder = await DriveClient(kit.api).ensure_folder(alice, folder_id=None, name="My logs")
    async with database.session() as session, session.begin():
        (await session.get(User, alice)).settings = {"drive_folder_id": folder.id}
    discord, slack = RecordingMessenger("discord"), RecordingMessenger("slack")
    clock = ManualClock(paris(22, 29))
    proc = daily_process(database, model, clock, messengers=[discord, slack], pdf_dir=tmp_path, kit=kit)
    openai_fake.queue(Reply(SUMMARY), Reply("Bob's summary"))

    assert DayOutcome.DONE not in (await proc.runner.run_due()).values()
    assert discord.posts == slack.posts == [] and pdf_files(google_fake) == []

    clock.set(paris(22, 31))
    assert await proc.runner.run_due() == {(alice, DAY): DayOutcome.DONE, (bob, DAY): DayOutcome.DONE}

    # One summary each, Alice's written from her messages only (Bob's thread gives her only her own).
    record = await proc.repo.get(alice, DAY)
    assert record is not None and (record.state, record.summary) == ("posted", SUMMARY)
    sent = [r["messages"][1]["content"] for r in openai_fake.chat_requests()]
    assert len(sent) == 2
    transcript = sent[0]
    assert "Alice asks in Bob thread" in transcript and "Bob private question" not in transcript
    assert "Bob private question" in sent[1] and "Alice asks in Bob thread" not in sent[1]
    bob_posts = [p for p in slack.posts if p.account.user_id == "bob-slack"]
    assert len(bob_posts) == 1 and [f.filename for f in bob_posts[0].files] == [PDF_NAME]  # no Google: attached
    slack.posts.remove(bob_posts[0])
    # One Drive file, in her folder, with the right name.
    files = pdf_files(google_fake)
    assert [(f["name"], f["parents"]) for f in files] == [(PDF_NAME, [folder.id])]
    # One DM post with the heading, the summary and the link, on the platform she used last that day.
    assert discord.posts == []
    assert len(slack.posts) == 1
    post = slack.posts[0]
    assert post.text.startswith("**Your day, Tuesday 24 November 2026**")
    assert "Buy rope before Friday" in post.text and files[0]["webViewLink"] in post.text
    assert post.files == [] and post.account.user_id == "alice-slack"
    # The PDF: the summary first, then every message of the day in order, and the images.
    data = google_fake.file_data[files[0]["id"]]
    text = pdf_text(data)
    in_order = ["Buy rope before Friday", "Night owl note", "Morning! Plan the harbour trip", "Sure, here is a plan.",
                "Alice asks in Bob thread", "Answer to Alice in the thread", "Lunch: we decided on the blue boat",
                "Here is a drawing of it.", "Remind me to buy rope", "Noted: buy rope."]  # fmt: skip
    positions = [text.index(piece) for piece in in_order]
    assert positions == sorted(positions)
    for absent in ("Bob private question", "Answer meant for Bob", "After midnight already"):
        assert absent not in text
    assert pdf_image_colours(data) == {(220, 30, 30), (30, 160, 60)}

    # Later ticks find the day done: nothing more.
    clock.advance(minutes=30)
    await proc.runner.run_due()
    assert len(slack.posts) == 1 and len(pdf_files(google_fake)) == 1 and len(openai_fake.chat_requests()) == 2


async def test_an_answer_that_was_cut_off_says_so_in_the_pdf(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(9, 0), "Tell me the long story", "Once upon a time the harbour")
    await people.exchange(alice, paris(10, 0), "And the short one?", "The end.")
    async with database.engine.begin() as conn:  # the first answer was stopped halfway, as a Ctrl-C leaves it
        await conn.execute(
            update(Message).where(Message.content == "Once upon a time the harbour").values(status="partial")
        )
    slack = RecordingMessenger("slack")
    proc = daily_process(database, model, ManualClock(paris(22, 31)), messengers=[slack], pdf_dir=tmp_path)
    openai_fake.queue(Reply(SUMMARY))

    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.DONE

    [post] = slack.posts
    text = " ".join(pdf_text(post.files[0].data).split())
    assert "Once upon a time the harbour (the answer stopped here, before it was finished)" in text
    assert text.count("the answer stopped here") == 1  # the finished answer is not marked


async def test_a_process_serving_some_platforms_leaves_the_days_it_cannot_post_alone(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris", platforms=("discord",))
    bob = await people.user("Bob", timezone="Europe/Paris", platforms=("slack",))
    await people.exchange(alice, paris(10, 0), "Alice on Discord", "Noted, Alice.")
    await people.exchange(bob, paris(11, 0), "Bob on Slack", "Noted, Bob.", platform="slack")
    clock = ManualClock(paris(22, 31))
    # Like the terminal chat: only some platforms connected here, so only their people's days.
    slack = RecordingMessenger("slack")
    partial = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "a", worker="a")
    partial.runner.deliverable = partial.outbox.can_reach
    openai_fake.queue(Reply("Bob's day."))

    assert await partial.runner.run_due() == {(bob, DAY): DayOutcome.DONE}
    assert await partial.repo.get(alice, DAY) is None, "not claimed, so no attempt used and nothing sent elsewhere"

    discord = RecordingMessenger("discord")
    full = daily_process(database, model, clock, messengers=[discord], pdf_dir=tmp_path / "b", worker="b")
    openai_fake.queue(Reply("Alice's day."))
    assert (await full.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert [p.account.platform for p in discord.posts] == ["discord"] and len(slack.posts) == 1


async def test_a_day_without_messages_produces_nothing(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0, day=20), "An older day", "Outside the catch-up window.")
    slack = RecordingMessenger("slack")
    proc = daily_process(database, model, ManualClock(paris(23, 0)), messengers=[slack], pdf_dir=tmp_path)

    assert await proc.runner.run_due() == {}
    assert slack.posts == [] and openai_fake.chat_requests() == []
    for day in range(20, 25):
        assert await proc.repo.get(alice, DAY.replace(day=day)) is None


async def test_each_time_zone_closes_at_its_own_local_time(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    tokyo = await people.user("Kenji", timezone="Asia/Tokyo")
    new_york = await people.user("Nora", timezone="America/New_York")
    await people.exchange(tokyo, datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), "Tokyo day", "Hi Kenji")
    await people.exchange(new_york, datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("America/New_York")), "NY day", "Hi")
    discord = RecordingMessenger("discord")
    clock = ManualClock(datetime(2026, 11, 24, 22, 31, tzinfo=ZoneInfo("Asia/Tokyo")))
    proc = daily_process(database, model, clock, messengers=[discord], pdf_dir=tmp_path)
    openai_fake.queue(Reply("Kenji's summary"), Reply("Nora's summary"))

    assert await proc.runner.run_due() == {(tokyo, DAY): DayOutcome.DONE}
    assert [p.account.user_id for p in discord.posts] == ["kenji-discord"]

    clock.set(datetime(2026, 11, 24, 22, 29, tzinfo=ZoneInfo("America/New_York")))
    assert DayOutcome.DONE not in (await proc.runner.run_due()).values()
    clock.set(datetime(2026, 11, 24, 22, 31, tzinfo=ZoneInfo("America/New_York")))
    assert (await proc.runner.run_due())[(new_york, DAY)] is DayOutcome.DONE
    assert [p.account.user_id for p in discord.posts] == ["kenji-discord", "nora-discord"]
    assert "Nora's summary" in discord.posts[1].text
    # Without Google the PDF comes with the DM.
    assert [f.filename for f in discord.posts[1].files] == [PDF_NAME]


async def test_two_processes_racing_make_one_file_and_one_post(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    people = People(database)
    alice, bob = await _alice_day(people)
    kit = GoogleKit(database, google_fake)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 45))
    others = [Database(database.url) for _ in range(2)]
    try:
        procs = [
            daily_process(
                db,
                model,
                clock,
                messengers=[slack],
                pdf_dir=tmp_path / f"p{n}",
                kit=GoogleKit(db, google_fake),
                worker=f"proc-{n}",
            )  # fmt: skip
            for n, db in enumerate(others)
        ]
        openai_fake.queue(*[Reply(SUMMARY)] * 4)
        outcomes = await asyncio.gather(*(p.runner.run_due() for p in procs))
    finally:
        for db in others:
            await db.dispose()
    for user in (alice, bob):
        assert sorted(o.get((user, DAY), DayOutcome.FINISHED) for o in outcomes) in (
            sorted([DayOutcome.DONE, DayOutcome.BUSY]),
            sorted([DayOutcome.DONE, DayOutcome.FINISHED]),
        )
    # Alice's PDF on Drive, Bob's attached: one each, one post each, one summary each.
    assert len(pdf_files(google_fake)) == 1 and len(openai_fake.chat_requests()) == 2
    assert sorted(p.account.user_id for p in slack.posts) == ["alice-slack", "bob-slack"]


async def test_a_failing_summary_call_is_retried_later_and_posted_once(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.")
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    proc = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path)
    openai_fake.queue(Error(500), Reply(SUMMARY))

    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.FAILED
    record = await proc.repo.get(alice, DAY)
    assert record is not None and record.state == "claimed" and "summarised" in (record.last_error or "")
    # It rests a minute, then is retried.
    assert await proc.runner.run_due() == {}
    clock.advance(minutes=2)
    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert len(slack.posts) == 1 and SUMMARY in slack.posts[0].text


async def test_a_drive_outage_resumes_at_the_upload_without_summarising_again(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    kit = GoogleKit(database, google_fake)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    proc = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path, kit=kit)
    openai_fake.queue(Reply(SUMMARY))
    google_fake.api_failure = 503

    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.FAILED
    record = await proc.repo.get(alice, DAY)
    assert record is not None and record.state == "rendered"

    google_fake.api_failure = None
    clock.advance(minutes=5)
    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert len(openai_fake.chat_requests()) == 1 and len(pdf_files(google_fake)) == 1 and len(slack.posts) == 1


async def test_a_revoked_token_asks_to_reconnect_and_the_day_finishes_after_reconnecting(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    kit = GoogleKit(database, google_fake)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    async with database.engine.begin() as conn:  # the access token has expired: the next call refreshes
        await conn.exec_driver_sql("UPDATE google_tokens SET access_token = NULL, expiry = NULL")
    google_fake.revoke_all()
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    proc = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path, kit=kit)
    openai_fake.queue(Reply(SUMMARY))

    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.WAITING
    assert proc.reconnects == [alice] and slack.posts == [] and pdf_files(google_fake) == []
    attempts = (await proc.repo.get(alice, DAY)).attempts
    # While the connection is still refused, later ticks wait without using up attempts, past the catch-up window.
    clock.advance(days=5)
    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.WAITING
    assert (await proc.repo.get(alice, DAY)).attempts == attempts and proc.reconnects == [alice]

    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    clock.advance(minutes=1)
    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert len(pdf_files(google_fake)) == 1 and len(slack.posts) == 1 and len(openai_fake.chat_requests()) == 1
    assert pdf_files(google_fake)[0]["webViewLink"] in slack.posts[0].text


async def test_a_process_killed_mid_render_is_taken_over_a_minute_later_and_done_once(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    kit = GoogleKit(database, google_fake)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    openai_fake.queue(Reply(SUMMARY))
    clock = ManualClock(paris(22, 31))
    # Another bot process gets the day, summarises it, and is killed (SIGKILL) while rendering.
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.daily.crash_child", database.url, openai_fake.base_url,
        google_fake.url, clock().isoformat(), str(tmp_path / "doomed"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert doomed.stdout is not None
    try:
        assert (await asyncio.wait_for(doomed.stdout.readline(), 60)).strip() == b"RENDERING"
    finally:
        doomed.kill()
        await doomed.wait()
    held = await DailyLogRepository(database, worker="probe").get(alice, DAY)
    assert held is not None and (held.state, held.claimed_by) == ("summarised", "doomed")

    slack = RecordingMessenger("slack")
    survivor = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "b", kit=kit)
    # Restarted at once: the dead process's claim still looks alive; one scheduler tick (a minute) later
    # its lease, no longer renewed, has run out.
    assert (await survivor.runner.run_due()).get((alice, DAY)) in (None, DayOutcome.BUSY)
    clock.advance(minutes=1)
    assert (await survivor.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert len(openai_fake.chat_requests()) == 1 and len(pdf_files(google_fake)) == 1 and len(slack.posts) == 1
    assert SUMMARY in slack.posts[0].text


async def _stopped_while_rendering(process: Process) -> None:
    """Run the due days until one is rendering, then stop as the bot does (SIGTERM: the scheduler cancels its tick)."""
    rendering = asyncio.Event()

    async def slow_render(_doc: object) -> bytes:
        rendering.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    process.job.render = slow_render
    running = asyncio.create_task(process.runner.run_due())
    await rendering.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_a_stopped_run_gives_its_day_back_so_the_next_start_resumes_at_once(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    first = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "a", worker="a")
    openai_fake.queue(Reply(SUMMARY))
    await _stopped_while_rendering(first)

    second = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "b", worker="b")
    assert (await second.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert len(openai_fake.chat_requests()) == 1 and len(slack.posts) == 1


@dataclass
class SlowMessenger(RecordingMessenger):
    """A platform that takes its time to answer a post: the post is shown, the answer comes later."""

    posting: asyncio.Event = field(default_factory=asyncio.Event)
    answer: asyncio.Event = field(default_factory=asyncio.Event)

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        delivery = await super().send_part(account, part, earlier_try=earlier_try)
        self.posting.set()
        await self.answer.wait()
        return delivery


async def test_a_stop_while_the_day_is_being_posted_finishes_the_post_and_records_it(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Ctrl-D in the terminal right as the day's post appears: the post was seen, so the day is
    # recorded as posted before the chat leaves; the next start must not show it again.
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    slack = SlowMessenger("slack")
    clock = ManualClock(paris(22, 31))
    first = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "a", worker="a")
    openai_fake.queue(Reply(SUMMARY))
    running = asyncio.create_task(first.runner.run_due())
    await slack.posting.wait()
    running.cancel()
    await asyncio.sleep(0)
    assert not running.done()  # the stop waits for the post under way
    slack.answer.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    record = await DailyLogRepository(database, worker="probe").get(alice, DAY)
    assert record is not None and record.state == "posted"

    again = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "b", worker="b")
    assert (alice, DAY) not in await again.runner.run_due()
    assert len(slack.posts) == 1 and SUMMARY in slack.posts[0].text


async def test_stopping_the_bot_again_and_again_never_uses_up_a_days_attempts(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # A chat opened and closed many times while its day is being rendered: each stop gives the day back.
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    slack = RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    openai_fake.queue(Reply(SUMMARY))
    for n in range(4):
        stopping = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / str(n), worker=str(n))
        stopping.job.max_attempts = 3
        await _stopped_while_rendering(stopping)

    last = daily_process(database, model, clock, messengers=[slack], pdf_dir=tmp_path / "last", worker="last")
    last.job.max_attempts = 3
    assert (await last.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert len(openai_fake.chat_requests()) == 1 and len(slack.posts) == 1  # summarised once, posted once


async def test_the_drive_folder_id_is_remembered_and_an_earlier_upload_is_not_repeated(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, google_fake: FakeGoogle, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="slack")
    kit = GoogleKit(database, google_fake)
    await connect_google(database, google_fake, kit, alice, "alice@example.org")
    # A run that uploaded and died before recording it left its file in the assistant's folder.
    drive = DriveClient(kit.api)
    folder = await drive.ensure_folder(alice, folder_id=None, name=ASSISTANT)
    earlier = await drive.upload_pdf(alice, folder_id=folder.id, filename=PDF_NAME, data=b"%PDF-1.4 earlier")
    slack = RecordingMessenger("slack")
    proc = daily_process(database, model, ManualClock(paris(22, 31)), messengers=[slack], pdf_dir=tmp_path, kit=kit)
    openai_fake.queue(Reply(SUMMARY))

    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.DONE
    assert [f["id"] for f in pdf_files(google_fake)] == [earlier.id]
    assert earlier.web_view_link in slack.posts[0].text
    async with database.session() as session:
        settings = (await session.execute(select(User.settings).where(User.id == alice))).scalar_one()
    assert settings["drive_folder_id"] == folder.id


async def test_a_day_refused_for_good_on_one_platform_goes_to_the_other_and_stays_there(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    people = People(database)
    alice = await people.user("Alice", timezone="Europe/Paris")
    await people.exchange(alice, paris(10, 0), "Plan the week", "Here is the plan.", platform="discord")
    discord, slack = RecordingMessenger("discord", refusing=True), RecordingMessenger("slack")
    clock = ManualClock(paris(22, 31))
    proc = daily_process(database, model, clock, messengers=[discord, slack], pdf_dir=tmp_path)
    openai_fake.queue(Reply(SUMMARY))

    assert (await proc.runner.run_due())[(alice, DAY)] is DayOutcome.DONE

    [post] = slack.posts
    assert post.account.user_id == "alice-slack" and [f.filename for f in post.files] == [PDF_NAME]
    assert discord.posts == []
