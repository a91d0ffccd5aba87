"""Making a logged day again on request (the web app's "Make it again"): a fresh summary, a fresh PDF, and
the same Drive file given the new PDF (uploaded when there was none or it was deleted). Nothing is posted.

The day's row is held while it is made (as the scheduled job holds it), so a remake and the job, or two
remakes, never write the same day at once; its state (posted or not) is left as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import partial

from core.daily.day import DayPerson
from core.daily.drive_upload import UploadWaiting
from core.daily.heartbeat import while_renewing
from core.daily.job import DailyJob
from core.db.claims import LeaseLost
from core.export import PdfUnavailable
from core.llm import ModelError

log = logging.getLogger(__name__)


class RemakeRefused(Exception):
    """The day cannot be made again now; the message says why, for the person."""


class NoSuchDay(Exception):
    """The person has no logged day of that date."""


@dataclass(frozen=True, slots=True)
class Remade:
    """What a remake produced: the summary and the Drive link (None when Google is not connected)."""

    summary: str
    drive_link: str | None


class DayRemake:
    """Makes one of a person's logged days again, through the daily job's own steps."""

    def __init__(self, job: DailyJob) -> None:
        self.job = job

    async def remake(self, user_id: int, day: date) -> Remade:
        """The day made again; raises NoSuchDay (not the person's) or RemakeRefused (with the reason)."""
        record = await self.job.repo.get(user_id, day)
        person = await self.job.reader.person(user_id)
        if record is None or person is None:
            raise NoSuchDay(day)
        if not await self.job.repo.hold(record.id, self.job.clock()):
            raise RemakeRefused("This day is being made right now; look again in a minute.")
        renew = partial(self.job.repo.renew, record.id, attempt=record.attempts)
        try:
            summary, link = await while_renewing(
                self._steps(person, day, record.drive_file_id), renew=lambda: renew(now=self.job.clock()),
                every=self.job.heartbeat,
            )  # fmt: skip
        except LeaseLost:
            raise RemakeRefused("This day was taken over while it was being made; look again in a minute.") from None
        except RemakeRefused as refused:
            await self.job.repo.release(record.id, attempt=record.attempts, now=self.job.clock(), error=str(refused))
            raise
        except BaseException:
            await self.job.repo.release(record.id, attempt=record.attempts, now=self.job.clock(), error="remake failed")
            raise
        return Remade(summary, link or record.drive_link)

    async def _steps(self, person: DayPerson, day: date, file_id: str | None) -> tuple[str, str | None]:
        job = self.job
        entries = await job.reader.entries(person.id, day, person.timezone)
        if not entries:
            raise RemakeRefused("No messages are left on that day (deleted or forgotten): nothing to make.")
        try:
            summary = await job.summarise(person, day, entries)
            pdf = await job.render_pdf(person, day, entries, summary)
        except ModelError as exc:
            raise RemakeRefused(f"The summary could not be written now: {exc.user_message}") from None
        except PdfUnavailable:
            raise RemakeRefused("The PDF cannot be made on this machine (its PDF libraries are missing).") from None
        job.pdfs.save(person.id, day, pdf)  # the web app's download serves the new one
        fields: dict[str, str | None] = {"summary": summary}
        link = None
        if job.uploader is not None:
            try:
                uploaded = await job.uploader.replace(person, job.file_name(day), pdf, file_id)
            except UploadWaiting:
                uploaded = None  # the reconnect link was sent; the summary and PDF are new all the same
            if uploaded is not None:
                fields.update(drive_file_id=uploaded.id, drive_link=uploaded.web_view_link)
                link = uploaded.web_view_link
        record = await job.repo.get(person.id, day)
        if record is None or not await job.repo.remade(record.id, attempt=record.attempts, now=job.clock(), **fields):
            raise LeaseLost(record.id if record else 0)
        log.info("daily log of user %s for %s made again", person.id, day)
        return summary, link
