"""/export [date], /summary [date], and /settings daily-time | daily-platform.

A CommandReply is one reply, so progress ("writing the summary…", "rendering
the PDF…") is shown as short lines while the work runs: through the request's
``progress`` when the caller shows them (the terminal), else in the user's DM
through the Outbox when their platform is connected; the reply says what was done.
/export posts the PDF to the DM too, unless the caller shows the reply's files
right where the command was typed (``answers_here``, the terminal).
``/settings`` wraps the command it replaces (time zone, name, Drive folder) and
adds the two daily-log settings; Slack and the terminal hand over one line, so
``/settings daily-time 22:30`` is read from the leading words as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, timedelta

from core.chat import ChatService
from core.commands import Command, CommandOption, CommandReply, CommandRequest, setting_hint
from core.daily.claim import DailyLogRepository
from core.daily.day import DayReader, local_day
from core.daily.job import DailyJob
from core.daily.prefs import (
    DAILY_PLATFORM,
    DAILY_TIME,
    OFF,
    PLATFORMS,
    closing_time,
    parse_daily_time,
    preferred_platform,
)
from core.export import PdfUnavailable
from core.export.layout import long_date
from core.identity.profile import Profiles
from core.messenger import DeliveryError, Outbox
from core.types import OutgoingFile

log = logging.getLogger(__name__)

_SETTING = re.compile(r"^\s*daily[-_ ]?(time|platform)(?:\s*[:=]\s*|\s+)(.*)$", re.IGNORECASE | re.DOTALL)
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
        profiles: Profiles,
        settings_command: Command | None,
        default_time: str,
        platforms: Sequence[str],
    ) -> None:
        """``platforms``: the chat platforms configured on this assistant (the daily summary can go only there)."""
        self.chat = chat
        self.job = job
        self.reader = reader
        self.repo = repo
        self.outbox = outbox
        self.profiles = profiles
        self.wrapped_settings = settings_command
        self.default_time = default_time
        self.platforms = tuple(p for p in PLATFORMS if p in platforms)

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
        admission = await self.chat.people.admit(request.identity)
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

    async def settings(self, request: CommandRequest) -> CommandReply:
        """``/settings daily-time`` and ``daily-platform``: both are checked before either is saved; other
        options go to the /settings this one wraps, and ``/settings`` alone adds the current daily values."""
        options = _spread(request.options)
        time_value, platform = options.pop("daily_time", "").strip(), options.pop("daily_platform", "").strip()
        if not time_value and not platform:
            if self.wrapped_settings is None:
                return CommandReply(await self._overview(request), private=True)
            reply = await self.wrapped_settings.handler(CommandRequest(request.identity, request.place, options))
            if any(v.strip() for v in options.values()):
                return reply
            return CommandReply(f"{reply.text}\n{await self._overview(request)}", reply.files, private=True)
        updates: dict[str, str] = {}
        lines: list[str] = []
        if time_value:
            try:
                at = parse_daily_time(time_value)
            except ValueError:
                return CommandReply("Give the daily time as HH:MM (e.g. 22:30) or off.", private=True)
            updates[DAILY_TIME] = at.strftime("%H:%M") if at else OFF
            lines.append(
                f"I'll close your day at {at:%H:%M} your time."
                if at
                else "Daily summaries are off. /export still works."
            )
        if platform:
            choice = platform.lower()
            refusal = self._platform_refusal(choice)
            if refusal:
                return CommandReply(refusal, private=True)
            updates[DAILY_PLATFORM] = choice
            lines.append(f"Your daily summary will come to your {choice.capitalize()} DM.")
        await self.profiles.update_settings(await self._user_id(request), updates)
        await self.chat.people.changed()
        if self.wrapped_settings is not None and any(v.strip() for v in options.values()):
            other = await self.wrapped_settings.handler(CommandRequest(request.identity, request.place, options))
            lines.insert(0, other.text)
        return CommandReply("\n".join(lines), private=True)

    def _platform_refusal(self, choice: str) -> str | None:
        """Why ``choice`` cannot take the daily summary (None when it can): only a configured platform can."""
        if choice in self.platforms:
            return None
        if not self.platforms:
            return "No chat platform (Discord or Slack) is configured on this assistant to take the daily summary."
        if choice in PLATFORMS:
            return (
                f"{choice.capitalize()} is not configured on this assistant; "
                f"the daily summary can go to: {', '.join(self.platforms)}."
            )
        return f"The daily platform is one of: {', '.join(self.platforms)}."

    async def _overview(self, request: CommandRequest) -> str:
        """The current daily values, each with how to change it on the caller's platform."""
        chosen = (await self.profiles.settings(await self._user_id(request))).get
        platform = request.identity.platform
        saved = chosen(DAILY_TIME)
        at = closing_time({DAILY_TIME: saved}, self.default_time)
        change_time = setting_hint(platform, "daily_time", "22:30")
        if at is None:
            lines = [f"Daily summaries are off. Turn them on with {change_time}."]
        else:
            default = "" if isinstance(saved, str) and saved.strip() else " (the default)"
            lines = [f"I close your day at {at:%H:%M} your time{default}. Change it with {change_time} (or off)."]
        if self.platforms:
            where = preferred_platform({DAILY_PLATFORM: chosen(DAILY_PLATFORM)})
            shown = f"your {where.capitalize()} DM" if where else "the DM of the platform you last wrote on"
            hint = setting_hint(platform, "daily_platform", "|".join(self.platforms))
            lines.append(f"Your daily summary comes to {shown}. Change it with {hint}.")
        return "\n".join(lines)


def _size(data: bytes) -> str:
    return f"{len(data) / 1024:.0f} KB" if len(data) < 1024 * 1024 else f"{len(data) / 1024 / 1024:.1f} MB"


def _spread(options: dict[str, str]) -> dict[str, str]:
    """``daily-time 22:30`` typed into any option (one-line platforms) becomes the daily option."""
    spread = {k: v for k, v in options.items() if v and v.strip()}
    for key, value in list(spread.items()):
        match = _SETTING.match(value)
        if match and match.group(2).strip() and key not in ("daily_time", "daily_platform"):
            del spread[key]
            spread[f"daily_{match.group(1).lower()}"] = match.group(2).strip()
    return spread


def daily_commands(handlers: DailyCommands) -> list[Command]:
    """/export, /summary, and /settings with the daily options added to the one it replaces."""
    previous = handlers.wrapped_settings.options if handlers.wrapped_settings is not None else ()
    where = " or ".join(handlers.platforms or PLATFORMS)
    date_option = (CommandOption("date", "YYYY-MM-DD, today or yesterday (default: today)"),)
    return [
        Command("export", "Get a day's PDF (its summary and messages)", handlers.export, options=date_option, slow=True,
                usage="/export 2026-11-24"),
        Command("summary", "Show a day's summary", handlers.summary, options=date_option, slow=True,
                usage="/summary yesterday"),
        Command(
            "settings",
            "See or change your settings (time zone, name, Drive folder, daily log)",
            handlers.settings,
            options=(
                *previous,
                CommandOption("daily_time", "When your day closes, HH:MM or off"),
                CommandOption("daily_platform", f"Where the daily summary goes: {where}"),
            ),
            usage="/settings daily-time 22:30, /settings daily-platform slack",
        ),
    ]  # fmt: skip
