"""Closing one user's day, exactly once: summarise → render → upload to Drive → post in the DM.

The day is acquired in the database first (core/daily/claim.py); the job then
resumes after the last finished step, so a crash or a failure in one step never
repeats the steps before it. The lease is renewed while a step runs
(core/daily/heartbeat.py), and the post (its text, the PDF when there is no
Drive link) goes through `core.speak` under the day's key: recorded before and
after it is sent, so a retry after a crash or a stop sends only what is missing,
never a part twice, and stored in the conversation's history, so the model knows
it posted the day. A failed step releases the row with its error and
the scheduler retries it later. Google refusing the token sends the reconnect
link and leaves the day waiting (without using up attempts) until the user has
connected again; without Google at all the PDF goes with the DM instead. Without
WeasyPrint's system libraries the day likewise waits, summary kept, until they are
installed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial
from zoneinfo import ZoneInfo

from core.clock import Clock
from core.daily.claim import GIVEN_BACK, HEARTBEAT, DailyLogRecord, DailyLogRepository
from core.daily.day import DayEntry, DayPerson, DayReader
from core.daily.document import PdfCache, day_document
from core.daily.drive_upload import DayUploader, UploadWaiting
from core.daily.heartbeat import while_renewing
from core.daily.prefs import preferred_platform
from core.daily.summary import DaySummaryWriter
from core.db.claims import LeaseLost
from core.events import DayPosted, EventBus
from core.export import DayDocument, PdfUnavailable
from core.export.engine import pdf_problem
from core.export.layout import long_date
from core.media.files import StoredFiles
from core.messenger import DeliveryError
from core.speak import Speak
from core.types import OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)

Render = Callable[[DayDocument], Awaitable[bytes]]
# Offers a day's open items the next morning: (user, day, zone, summary, platform) -> how many.
OfferFollowUps = Callable[[int, date, ZoneInfo, str, str], Awaitable[int]]
Progress = Callable[[str], Awaitable[None]]
WAITING_FOR_GOOGLE = "waiting for the user to connect Google again"
WAITING_FOR_PDF = "waiting for the PDF libraries (Pango) to be installed"
STOPPED = GIVEN_BACK
POST_GRACE = 5.0  # seconds a post under way may take to finish when the process stops (a stuck one is cut)
HEADING = "**Your day, {date}**"


class DayOutcome(StrEnum):
    NOTHING = "nothing"  # no messages that day: nothing is made
    DONE = "done"  # posted now
    FINISHED = "finished"  # already posted (or given up) before
    BUSY = "busy"  # another worker holds the day
    WAITING = "waiting"  # for the user to reconnect Google
    FAILED = "failed"  # a step failed; released, retried later


def retry_delay(attempts: int) -> timedelta:
    """How long a released day rests before the next try: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def may_try_now(record: DailyLogRecord, now: datetime) -> bool:
    """Whether a released row has rested long enough (a held row is the lease's business)."""
    if record.claimed_at is not None or record.last_error in (None, STOPPED):
        return True
    return now >= record.updated_at + retry_delay(record.attempts)


def post_key(record: DailyLogRecord) -> str:
    """The day's idempotency key for `speak`: the same on every try, in every process."""
    return f"daily:{record.id}"


def post_text(day: date, summary: str, link: str | None) -> str:
    """The DM: a short heading, the summary, the Drive link (or a word about the attached PDF)."""
    tail = f"The whole day as a PDF: {link}" if link else "The whole day is in the attached PDF."
    return f"{HEADING.format(date=long_date(day))}\n\n{summary.strip()}\n\n{tail}"


class DailyJob:
    """Runs the steps of one (user, day); one instance per process."""

    def __init__(
        self,
        *,
        repo: DailyLogRepository,
        reader: DayReader,
        files: StoredFiles,
        writer: DaySummaryWriter,
        render: Render,
        pdfs: PdfCache,
        speak: Speak,
        uploader: DayUploader | None,
        clock: Clock,
        assistant_name: str,
        max_attempts: int = 50,
        heartbeat: float = HEARTBEAT.total_seconds(),
        follow_ups: OfferFollowUps | None = None,
        events: EventBus | None = None,
    ) -> None:
        """`speak` posts the day once (stored in the conversation's history); `heartbeat` is how often
        (seconds) a held day is renewed; `follow_ups` offers the summary's open items the next morning; a
        posted day is published on `events` (:class:`DayPosted`)."""
        self.follow_ups = follow_ups
        self.repo = repo
        self.reader = reader
        self.files = files
        self.writer = writer
        self.render = render
        self.pdfs = pdfs
        self.speak = speak
        self.uploader = uploader
        self.clock = clock
        self.assistant_name = assistant_name
        self.max_attempts = max_attempts
        self.heartbeat = heartbeat
        self.events = events

    # -- pieces shared with the on-demand commands -------------------------------------------

    async def summarise(self, person: DayPerson, day: date, entries: list[DayEntry]) -> str:
        """A fresh summary of the day (one model call)."""
        return await self.writer.write(
            entries, day=day, tz=person.timezone, user_name=person.display_name, assistant_name=self.assistant_name
        )

    async def render_pdf(self, person: DayPerson, day: date, entries: list[DayEntry], summary: str) -> bytes:
        """The day's PDF (summary first, then every message and image)."""
        doc = await day_document(
            entries, self.files, day=day, tz=person.timezone, summary=summary,
            user_name=person.display_name, assistant_name=self.assistant_name,
        )  # fmt: skip
        return await self.render(doc)

    def file_name(self, day: date) -> str:
        """`YYYY-MM-DD <assistant name>.pdf`."""
        return f"{day.isoformat()} {self.assistant_name}.pdf"

    # -- the scheduled run ---------------------------------------------------------------------

    async def run(self, user_id: int, day: date) -> DayOutcome:
        """Close (`user_id`, `day`) if nobody else is and it is not done; never raises for a failed step."""
        person = await self.reader.person(user_id)
        if person is None:
            return DayOutcome.NOTHING
        existing = await self.repo.get(user_id, day)
        if existing is not None and existing.finished:
            return DayOutcome.FINISHED
        if existing is None and not await self.reader.has_messages(user_id, day, person.timezone):
            return DayOutcome.NOTHING
        if existing is not None and existing.last_error == WAITING_FOR_GOOGLE and existing.claimed_at is None:
            if self.uploader is not None and await self.uploader.still_refused(user_id):
                return DayOutcome.WAITING
        if existing is not None and existing.last_error == WAITING_FOR_PDF and existing.claimed_at is None:
            # Not an attempt until the libraries are there: a day must not run out of tries meanwhile.
            if await asyncio.to_thread(pdf_problem) is not None:
                return DayOutcome.WAITING
        record = await self.repo.acquire(user_id, day, self.clock(), max_attempts=self.max_attempts)
        if record is None:
            return DayOutcome.BUSY
        try:
            return await while_renewing(
                self._steps(person, day, record), renew=partial(self._renew, record), every=self.heartbeat
            )
        except asyncio.CancelledError:
            # The bot is stopping (a crash runs no code: then the lease runs out instead).
            # Give the day back so the next start resumes it at once; what was done stays done.
            await asyncio.shield(self._give_back(record))
            raise
        except LeaseLost:
            log.warning("daily log of user %s day %s: lease lost, leaving it to its new holder", user_id, day)
            return DayOutcome.BUSY

    async def _steps(self, person: DayPerson, day: date, record: DailyLogRecord) -> DayOutcome:
        entries = await self.reader.entries(person.id, day, person.timezone)
        step = "summarised"
        try:
            if not record.done("summarised"):
                if not entries:  # everything was deleted or forgotten since the claim
                    record = await self._advance(record, "failed", last_error="no messages left that day")
                    return DayOutcome.NOTHING
                record = await self._advance(record, "summarised", summary=await self.summarise(person, day, entries))
            summary = record.summary or ""
            pdf: bytes | None = None
            if not record.done("rendered"):
                step = "rendered"
                pdf = await self.render_pdf(person, day, entries, summary)
                self.pdfs.save(person.id, day, pdf)
                record = await self._advance(record, "rendered")
            if not record.done("uploaded"):
                step = "uploaded"
                pdf = pdf or await self._pdf(person, day, entries, summary)
                uploaded = await self.uploader.upload(person, self.file_name(day), pdf) if self.uploader else None
                fields = {"drive_file_id": uploaded.id, "drive_link": uploaded.web_view_link} if uploaded else {}
                record = await self._advance(record, "uploaded", **fields)
            step = "posted"
            files: list[OutgoingFile] = []
            if not record.drive_link:
                pdf = pdf or await self._pdf(person, day, entries, summary)
                files.append(OutgoingFile(self.file_name(day), "application/pdf", pdf, description="The day as a PDF"))
            platform = preferred_platform(person.settings) or _last_platform(entries)
            await self._offer_follow_ups(person, day, summary, platform)
            await self._post_to_the_end(record, post_text(day, summary, record.drive_link), files, platform)
            self.pdfs.drop(person.id, day)
            log.info("daily log of user %s for %s posted", person.id, day)
            if self.events is not None:
                await self.events.publish(DayPosted(person.id, day))
            return DayOutcome.DONE
        except LeaseLost:
            raise
        except UploadWaiting:
            await self._release(record, WAITING_FOR_GOOGLE)
            return DayOutcome.WAITING
        except DeliveryError as exc:
            await self._release(record, f"post: {exc.reason}")
            return DayOutcome.FAILED
        except PdfUnavailable as exc:
            # A missing system library, not a bug: one line, no traceback; the day is kept and retried.
            log.warning("daily log of user %s day %s not rendered: %s", person.id, day, exc)
            await self._release(record, WAITING_FOR_PDF)
            return DayOutcome.WAITING
        except Exception as exc:  # noqa: BLE001 - any failed step is released and retried, never lost
            log.warning("daily log of user %s day %s failed at %s: %s", person.id, day, step, exc, exc_info=True)
            await self._release(record, f"{step}: {type(exc).__name__}: {exc}")
            return DayOutcome.FAILED

    async def _offer_follow_ups(self, person: DayPerson, day: date, summary: str, platform: str | None) -> None:
        """Before the post (a retry offers nothing twice): a failure here is logged, the post goes on."""
        if self.follow_ups is None:
            return
        try:
            await self.follow_ups(person.id, day, person.timezone, summary, platform or "")
        except Exception:  # noqa: BLE001 - the day's post matters more than the next morning's offer
            log.exception("could not offer the open items of user %s for %s", person.id, day)

    async def _pdf(self, person: DayPerson, day: date, entries: list[DayEntry], summary: str) -> bytes:
        cached = self.pdfs.load(person.id, day)
        if cached is not None:
            return cached
        pdf = await self.render_pdf(person, day, entries, summary)
        self.pdfs.save(person.id, day, pdf)
        return pdf

    async def _post_to_the_end(
        self, record: DailyLogRecord, text: str, files: list[OutgoingFile], platform: str | None
    ) -> None:
        """Post the day and record it as posted, even when the process is asked to stop meanwhile.

        A stop (Ctrl-D in the terminal, a signal) that cut between the post being shown and
        "posted" being recorded would give the day back, and the next start would post it again.
        So a post under way is finished (within POST_GRACE seconds) before the stop goes on.
        """

        async def still_ours(_account: PlatformIdentity) -> None:
            if not await self._renew(record):  # only the day's holder may start a send
                raise LeaseLost(record.id)

        async def post_and_record() -> None:
            await self.speak(
                record.user_id, key=post_key(record), text=text, files=files, prefer_platform=platform,
                before_send=still_ours,
            )  # fmt: skip
            await self._advance(record, "posted", last_error=None)

        posting = asyncio.ensure_future(post_and_record())
        try:
            await asyncio.shield(posting)
        except asyncio.CancelledError:
            done, _ = await asyncio.wait({posting}, timeout=POST_GRACE)
            if not done:
                posting.cancel()
            raise

    async def _advance(self, record: DailyLogRecord, state: str, **fields: str | None) -> DailyLogRecord:
        now = self.clock()
        if not await self.repo.advance(record.id, state, attempt=record.attempts, now=now, **fields):
            raise LeaseLost(record.id)
        return dataclasses.replace(record, state=state, claimed_at=now, updated_at=now, **fields)

    async def _renew(self, record: DailyLogRecord) -> bool:
        return await self.repo.renew(record.id, attempt=record.attempts, now=self.clock())

    async def _give_back(self, record: DailyLogRecord) -> None:
        try:
            current = await self.repo.get(record.user_id, record.day)
            if current is not None and not current.finished:
                await self.repo.release(current.id, attempt=record.attempts, now=self.clock(), error=STOPPED)
        except Exception:  # noqa: BLE001 - stopping anyway; the lease runs out instead
            log.warning("daily log %s: could not give the day back while stopping", record.id, exc_info=True)

    async def _release(self, record: DailyLogRecord, error: str) -> None:
        if not await self.repo.release(record.id, attempt=record.attempts, now=self.clock(), error=error):
            log.warning("daily log %s: could not release (lease already taken over)", record.id)


def _last_platform(entries: list[DayEntry]) -> str | None:
    """The platform of the user's last message of the day."""
    return next((e.platform for e in reversed(entries) if e.role == "user"), None)
