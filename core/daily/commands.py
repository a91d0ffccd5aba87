"""/export [date] and /summary [date] (the daily settings are fields of the registry: core/daily/settings_fields.py).

A CommandReply is one reply, so progress ("writing the summary…", "rendering
the PDF…") is shown as short lines while the work runs: through the request's
``progress`` when the caller shows them (the terminal), else in the user's DM
through the Outbox when their platform is connected; the reply says what was done.
/export posts the PDF to the DM too, unless the caller shows the reply's files
right where the command was typed (``answers_here``, the terminal).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from core.chat import ChatService
from core.commands import Command, CommandOption, CommandReply, CommandRequest
from core.daily.claim import DailyLogRepository
from core.daily.day import DayReader, local_day
from core.daily.job import DailyJob
from core.export import PdfUnavailable
from core.export.layout import long_date
from core.messenger import DeliveryError, Outbox
from core.types import OutgoingFile

log = logging.getLogger(__name__)

DATE_HELP = "Give a date as YYYY-MM-DD, or today / yesterday."
PDF_UNAVAILABLE = (
    "PDF export is not available right now: the server running me lacks the PDF libraries "
    "(its log says what to install). /summary still works."
)


class DailyCommands:
    """Handlers of the daily-log commands."""

    def __init__(
        self,
        *,
        chat: ChatService,
        job: DailyJob,
        reader: DayReader,
        repo: DailyLogRepository,
        outbox: Outbox,
    ) -> None:
        self.chat = chat
        self.job = job
        self.reader = reader
        self.repo = repo
        self.outbox = outbox

    async def _progress(self, request: CommandRequest, line: str) -> None:
        if request.progress is not None:
            await request.progress(line)
            return
        identity = request.identity
        if self.outbox.messenger(identity.platform) is None:
            return
        try:
            await self.outbox.send_to_account(identity, f"_{line}_")
        except DeliveryError as exc:
            log.info("progress line not delivered: %s", exc.reason)

    async def _day(self, request: CommandRequest) -> tuple[date, str | None]:
        person = await self.reader.person(await self._user_id(request))
        tz = person.timezone if person else None
        today = local_day(self.chat.clock(), tz) if tz else self.chat.clock().date()
        word = request.options.get("date", "").strip().lower()
        if word in ("", "today"):
            return today, None
        if word == "yesterday":
            return today - timedelta(days=1), None
        try:
            day = date.fromisoformat(word)
        except ValueError:
            return today, f"I can't read {word!r} as a date. {DATE_HELP}"
        if day > today:
            return today, f"{day.isoformat()} has not happened yet. {DATE_HELP}"
        return day, None

    async def _user_id(self, request: CommandRequest) -> int:
        admission = await self.chat.admit(request.identity)
        assert admission.user is not None  # CommandSet.run admitted the caller
        return admission.user.id

    async def _summary_of(self, request: CommandRequest, user_id: int, day: date) -> str | None:
        """The stored summary, or a fresh one for a day still open or never closed; None without messages."""
        row = await self.repo.get(user_id, day)
        if row is not None and row.summary:
            return row.summary
        person = await self.reader.person(user_id)
        assert person is not None
        entries = await self.reader.entries(user_id, day, person.timezone)
        if not entries:
            return None
        await self._progress(request, "writing the summary…")
        return await self.job.summarise(person, day, entries)

    async def summary(self, request: CommandRequest) -> CommandReply:
        day, problem = await self._day(request)
        if problem:
            return CommandReply(problem, private=True)
        user_id = await self._user_id(request)
        text = await self._summary_of(request, user_id, day)
        if text is None:
            return CommandReply(f"No messages on {long_date(day)}: nothing to summarise.", private=True)
        return CommandReply(f"**{long_date(day)}**\n\n{text}", private=True)

    async def export(self, request: CommandRequest) -> CommandReply:
        day, problem = await self._day(request)
        if problem:
            return CommandReply(problem, private=True)
        user_id = await self._user_id(request)
        summary = await self._summary_of(request, user_id, day)
        if summary is None:
            return CommandReply(f"No messages on {long_date(day)}: there is nothing to export.", private=True)
        person = await self.reader.person(user_id)
        assert person is not None
        await self._progress(request, "rendering the PDF…")
        entries = await self.reader.entries(user_id, day, person.timezone)
        try:
            pdf = await self.job.render_pdf(person, day, entries, summary)
        except PdfUnavailable as exc:  # logged where it was rendered
            # The install hint is for whoever runs the bot: that is the terminal's user, not a Discord or Slack one.
            text = str(exc) if request.answers_here else PDF_UNAVAILABLE
            return CommandReply(text, private=True)
        name = self.job.file_name(day)
        attachment = OutgoingFile(name, "application/pdf", pdf, description=f"The day of {long_date(day)}")
        row = await self.repo.get(user_id, day)
        link = f" It is also on Drive: {row.drive_link}" if row is not None and row.drive_link else ""
        if not request.answers_here and self.outbox.messenger(request.identity.platform) is not None:
            try:
                await self.outbox.send_to_account(request.identity, f"{name}{link}", (attachment,))
                return CommandReply(f"Sent {name} ({_size(pdf)}) to your DM.{link}", private=True)
            except DeliveryError as exc:
                log.warning("/export DM for user %s failed: %s", user_id, exc.reason)
        return CommandReply(f"Here is {name} ({_size(pdf)}).{link}", files=(attachment,), private=True)


def _size(data: bytes) -> str:
    return f"{len(data) / 1024:.0f} KB" if len(data) < 1024 * 1024 else f"{len(data) / 1024 / 1024:.1f} MB"


def daily_commands(handlers: DailyCommands) -> list[Command]:
    """/export and /summary."""
    date_option = (CommandOption("date", "YYYY-MM-DD, today or yesterday (default: today)"),)
    return [
        Command("export", "Get a day's PDF (its summary and messages)", handlers.export, options=date_option, slow=True,
                usage="/export 2026-11-24"),
        Command("summary", "Show a day's summary", handlers.summary, options=date_option, slow=True,
                usage="/summary yesterday"),
    ]  # fmt: skip
