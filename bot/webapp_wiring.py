"""Builds the web app's services from the settings (called by the container; on only when SECRET_KEY is set)."""

from __future__ import annotations

from datetime import date

from bot.config import Settings
from bot.daily_wiring import DailyServices
from bot.identity_wiring import GoogleServices, token_cipher
from bot.webapp import WebApp
from bot.webapp.deps import Connections, DayPdf
from core.chat import ChatService
from core.clock import Clock, system_clock
from core.commands import CommandSet
from core.daily.remake import DayRemake
from core.db.database import Database
from core.db.timeline import daily_logs_of
from core.identity.access_tokens import AccessTokens
from core.identity.linking import AccountLinker
from core.identity.profile import Profiles
from core.identity.states import OAuthStateStore
from core.identity.web_sessions import WebSessions
from core.memory.wiring import LongTermMemory
from core.people import People
from core.reminders.actions import ReminderActions


def build_web_sessions(
    settings: Settings, db: Database, people: People, *, clock: Clock = system_clock
) -> WebSessions | None:
    """The sessions (and sign-in links) of the web app, or None without SECRET_KEY (it encrypts the link's row)."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value():
        return None
    states = OAuthStateStore(db, token_cipher(settings), clock=clock)
    return WebSessions(db, states=states, people=people, public_url=settings.public_base_url, clock=clock)


def day_pdf_of(db: Database, daily: DailyServices) -> DayPdf:
    """The PDF of a person's logged day: the cached render, or rendered again from the stored summary."""
    job = daily.job

    async def day_pdf(user_id: int, day: date) -> bytes | None:
        logs = {log.day: log for log in await daily_logs_of(db, user_id, limit=400)}
        summary = logs[day].summary if day in logs else None
        if summary is None:
            return None
        cached = job.pdfs.load(user_id, day)
        if cached is not None:
            return cached
        person = await job.reader.person(user_id)
        if person is None:
            return None
        entries = await job.reader.entries(user_id, day, person.timezone)
        return await job.render_pdf(person, day, entries, summary)

    return day_pdf


def build_webapp(
    settings: Settings,
    *,
    db: Database,
    chat: ChatService,
    sessions: WebSessions,
    people: People,
    memory: LongTermMemory | None,
    daily: DailyServices | None,
    google: GoogleServices | None,
    linker: AccountLinker,
    reminders: ReminderActions | None = None,
    commands: CommandSet | None = None,
    clock: Clock = system_clock,
) -> WebApp:
    """The services behind the web app's routes (``google``: present when Google is configured; ``commands``:
    what the buttons under a reminder in the web chat run)."""
    connections = Connections(
        people=people, linker=linker, profiles=Profiles(db, changed=people.changed),
        signin=google.signin if google else None, google=google.connections if google else None,
        drive=google.drive if google else None,
    )  # fmt: skip
    return WebApp(
        db=db,
        chat=chat,
        sessions=sessions,
        tokens=AccessTokens(db, people, clock=clock),
        memory=memory,
        day_pdf=day_pdf_of(db, daily) if daily is not None else None,
        remake=DayRemake(daily.job) if daily is not None else None,
        assistant_name=settings.assistant_name,
        google_signin=google is not None,
        connections=connections,
        reminders=reminders,
        commands=commands,
    )
