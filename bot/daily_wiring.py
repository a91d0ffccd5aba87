"""Builds the daily log (job, runner, scheduler, context step, commands) from the settings (called by the container)."""

from __future__ import annotations

import multiprocessing
import os
import socket
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

from bot.config import Settings
from bot.identity_wiring import GoogleServices
from bot.scheduler import DailyScheduler
from core.chat import ChatService
from core.clock import Clock
from core.commands import Command
from core.daily.claim import DailyLogRepository
from core.daily.commands import DailyCommands, daily_commands
from core.daily.context_step import DailyContext
from core.daily.day import DayReader
from core.daily.document import PdfCache
from core.daily.drive_upload import DayUploader
from core.daily.job import DailyJob, OfferFollowUps
from core.daily.runner import DailyRunner
from core.daily.settings_fields import daily_platform_field, daily_time_field
from core.daily.summary import DaySummaryWriter
from core.db.database import Database
from core.events import EventBus
from core.export import render_day_pdf
from core.features import FeatureContext, FeatureParts
from core.google.calendar import CalendarClient
from core.google.drive import DriveClient
from core.google.tokens import GoogleTokenStore
from core.identity.profile import Profiles
from core.llm import OpenAIModel
from core.media.files import StoredFiles
from core.media.safe_image import SafeImages
from core.messenger import Outbox
from core.parent_watch import exit_with_parent
from core.settings.field import SettingField
from core.speak import Speak


@dataclass
class DailyServices:
    job: DailyJob
    runner: DailyRunner
    scheduler: DailyScheduler
    context: DailyContext
    commands: list[Command]
    settings: list[SettingField]  # the daily time and platform, for the settings registry
    executor: Executor | None

    def close(self) -> None:
        """Stop the PDF worker process (a render in progress is abandoned; its day resumes later)."""
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)


def render_pool() -> ProcessPoolExecutor:
    """One worker process for PDF renders, spawned (not forked: the bot's loop and sockets stay behind).

    The worker ends with the bot, even after a kill -9 (see `core.parent_watch`).
    """
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )


def worker_name() -> str:
    """This process in ``daily_logs.claimed_by``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def build_daily(
    settings: Settings,
    *,
    db: Database,
    chat: ChatService,
    model: OpenAIModel,
    outbox: Outbox,
    speak: Speak,
    files: StoredFiles,
    images: SafeImages,
    clock: Clock,
    drive: DriveClient | None = None,
    calendar: CalendarClient | None = None,
    tokens: GoogleTokenStore | None = None,
    executor: Executor | None = None,
    follow_ups: OfferFollowUps | None = None,
    pdfs: PdfCache | None = None,
    events: EventBus | None = None,
) -> DailyServices:
    """The daily log's pieces; ``executor`` renders PDFs (default: a fresh one-process pool); ``pdfs`` caches
    them (default: under DATA_DIR/daily).

    ``images`` opens the day's images within the size limit (the process's one opener).
    """
    pool = executor if executor is not None else render_pool()
    reader = DayReader(db, default_timezone=settings.default_timezone)
    repo = DailyLogRepository(db, worker=worker_name())
    profiles = Profiles(db)
    uploader = (
        DayUploader(
            drive=drive,
            tokens=tokens,
            profiles=profiles,
            folder_name=settings.assistant_name,
            events=events,
        )
        if drive is not None and tokens is not None
        else None
    )
    job = DailyJob(
        repo=repo,
        reader=reader,
        files=files,
        writer=DaySummaryWriter(model, model_name=settings.summary_model or settings.chat_model),
        render=partial(render_day_pdf, executor=pool, images=images),
        pdfs=pdfs if pdfs is not None else PdfCache(settings.data_dir / "daily"),
        speak=speak,
        uploader=uploader,
        clock=clock,
        assistant_name=settings.assistant_name,
        follow_ups=follow_ups,
        events=events,
    )
    runner = DailyRunner(
        job=job,
        reader=reader,
        repo=repo,
        clock=clock,
        default_time=settings.daily_summary_time,
        catch_up_days=settings.daily_catch_up_days,
    )
    handlers = DailyCommands(
        chat=chat,
        job=job,
        reader=reader,
        repo=repo,
        outbox=outbox,
    )
    return DailyServices(
        job=job,
        runner=runner,
        scheduler=DailyScheduler(runner.run_due),
        context=DailyContext(db, reader, calendar=calendar),
        commands=daily_commands(handlers),
        settings=[
            daily_time_field(profiles, default_time=settings.daily_summary_time),
            daily_platform_field(profiles, platforms=settings.platforms),
        ],
        executor=pool if executor is None else None,
    )


class DailyLog:
    """The daily log as a feature unit: yesterday's log in the context, its commands and settings;
    :attr:`services` (the job, the runner, the scheduler the process starts) once installed."""

    name = "daily"

    def __init__(
        self,
        settings: Settings,
        *,
        model: OpenAIModel,
        files: StoredFiles,
        images: SafeImages,
        google: GoogleServices | None,
        follow_ups: OfferFollowUps | None = None,
    ) -> None:
        """``google`` (Drive for the PDFs, Calendar for tomorrow) when configured (a connection Google refuses
        is published as :class:`GoogleBroken`); ``follow_ups`` offers a posted
        day's open items as reminders."""
        self.settings = settings
        self.model = model
        self.files = files
        self.images = images
        self.google = google
        self.follow_ups = follow_ups
        self.pdfs = PdfCache(settings.data_dir / "daily")  # the data export reads them too
        self.services: DailyServices | None = None

    def install(self, context: FeatureContext) -> FeatureParts:
        if context.outbox is None or context.speak is None:
            raise ValueError("the daily log needs the outbox and speak to post through")
        google = self.google
        self.services = build_daily(
            self.settings,
            db=context.db,
            chat=context.chat,
            model=self.model,
            outbox=context.outbox,
            speak=context.speak,
            files=self.files,
            images=self.images,
            clock=context.clock,
            drive=google.drive if google is not None else None,
            calendar=google.calendar if google is not None else None,
            tokens=google.tokens if google is not None else None,
            follow_ups=self.follow_ups,
            pdfs=self.pdfs,
            events=context.events,
        )
        return FeatureParts(
            before_model=[self.services.context], commands=self.services.commands, settings=self.services.settings
        )
