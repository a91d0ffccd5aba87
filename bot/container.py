"""The one wiring point: builds every service once and passes dependencies down."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic.util import CommandError as AlembicError
from sqlalchemy.exc import SQLAlchemyError

from adapters.strangers import StrangerGate
from bot.agents import Agents, build_agents
from bot.config import Settings
from bot.daily_wiring import DailyServices, build_daily, worker_name
from bot.errors import ConfigError, first_line
from bot.forget_wiring import add_forget_me_cleanup
from bot.identity_wiring import IdentityServices, build_identity, tidy_at_start
from bot.model import api_key_for, build_context, build_model  # noqa: F401 - part of this module's interface
from bot.scheduler import DailyScheduler
from bot.settings_wiring import build_settings_page, build_settings_registry
from bot.web import WebServer
from bot.webapp import WebApp
from bot.webapp_wiring import build_web_sessions, build_webapp
from core.access import AccessPolicy
from core.chat import ChatService
from core.chat.media import MediaReader
from core.chat.pipeline import TurnPipeline
from core.clock import Clock, system_clock
from core.commands import CommandSet
from core.data_export.command import export_data_command
from core.db.database import Database
from core.db.repositories import MessageRepository
from core.events import EventBus, SignInFinished
from core.features import FeatureContext, install
from core.google.availability import GoogleAvailability
from core.google.tools import calendar_tools
from core.identity.commands import GoogleParts, IdentityCommands, identity_commands
from core.identity.notices import IdentityNotices
from core.identity.profile import Profiles
from core.limits import LimitSettings, UsageLimits
from core.link_previews import LinkPreviews, previews_field
from core.llm import OpenAIModel
from core.media.commands import VoiceCommands, voice_commands
from core.media.files import StoredFiles
from core.media.safe_image import ImageLimits, SafeImages, apply_pillow_limit
from core.media.settings_fields import voice_field
from core.memory.wiring import LongTermMemory, Memory, MemorySettings
from core.messenger import Outbox
from core.people import People
from core.reminders.runner import ReminderRunner
from core.reminders.unit import Reminders, build_reminders
from core.speak import Speak, build_speak
from core.summaries import Summaries
from core.tasks import BackgroundTasks
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
from core.tools.confirm import ConfirmationStep, PendingActions, confirm_first
from core.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Every long-lived service of the process."""

    settings: Settings
    db: Database
    model: OpenAIModel
    chat: ChatService
    commands: CommandSet
    people: People
    tasks: BackgroundTasks
    outbox: Outbox
    clock: Clock
    calculator: Calculator
    agents: Agents
    identity: IdentityServices
    notices: IdentityNotices
    events: EventBus
    gate: StrangerGate  # the access gate every platform shares
    daily: DailyServices | None = None
    memory: LongTermMemory | None = None
    previews: LinkPreviews | None = None  # who wants link previews on their answers (/settings previews)
    reminders: Reminders | None = None
    speak: Speak | None = None  # the assistant speaking first (reminders, the daily post, reconnect links)

    def web_services(self) -> list[WebServer]:
        """The one web server, to run beside the platforms when something needs it: Google sign-in (its
        callbacks), Slack's HTTP mode (``/slack/events``), the settings page and the web app (with ``SECRET_KEY``)."""
        settings = self.settings
        slack_http = settings.slack_configured and settings.slack_mode == "http"
        page = self.identity.web.app.state.settings_page is not None
        app = getattr(self.identity.web.app.state, "webapp", None) is not None
        return [self.identity.web] if self.identity.google is not None or slack_http or page or app else []

    @property
    def webapp(self) -> WebApp | None:
        """The web app's services (bot/webapp), or None without SECRET_KEY."""
        return getattr(self.identity.web.app.state, "webapp", None)

    def scheduled_services(self, *, reachable_only: bool = False) -> list[DailyScheduler | ReminderRunner]:
        """The daily-log trigger and the reminders, to run beside the platforms (``captainslog run``) or the
        terminal chat.

        `reachable_only`: close only the days of people this process can post to, and send only the
        reminders asked in the terminal (the terminal chat's).
        """
        services: list[DailyScheduler | ReminderRunner] = []
        if self.daily is not None:
            if reachable_only:
                self.daily.runner.deliverable = self.outbox.can_reach
            services.append(self.daily.scheduler)
        if self.reminders is not None:
            if reachable_only:
                self.reminders.runner.platforms = ("terminal",)
            services.append(self.reminders.runner)
        return services

    @classmethod
    async def create(cls, settings: Settings, *, clock: Clock = system_clock) -> Container:
        """Build the services; migrates the database first when ``AUTO_MIGRATE`` is on.

        ``clock`` is "now" for every service (tests pass a ManualClock to move time)."""
        model = build_model(settings)
        db = Database(settings.database_url)
        try:
            if settings.auto_migrate:
                await db.migrate()
            elif await db.pending_migrations():
                raise ConfigError("The database schema is out of date: run `captainslog migrate`.")
        except (SQLAlchemyError, OSError, AlembicError) as exc:
            await db.dispose()
            raise ConfigError(f"The database at {db.display_url} cannot be used: {first_line(exc)}") from exc
        context = build_context(settings)  # the model's context, shared by the answers and `speak`
        tasks = BackgroundTasks()
        accounts = AccessPolicy(settings.allowed_accounts)
        for warning in accounts.warnings():
            log.warning("ALLOWED_ACCOUNTS: %s", warning)

        events = EventBus()  # subscribed below, while wiring; nothing publishes before the services start
        try:
            ids = build_identity(settings, db, clock=clock, events=events)
        except ConfigError:
            await db.dispose()
            raise
        await tidy_at_start(settings, db, ids, clock=clock)
        google = ids.google
        people = People(
            db,
            accounts=accounts,
            clock=clock,
            email_allowed=ids.allowlist,
            sign_in_link=google.signin.start if google is not None else None,
        )
        outbox = Outbox(people)
        speak = build_speak(db, outbox, model, context, clock=clock, default_timezone=settings.default_timezone)
        availability = GoogleAvailability(google.connections) if google is not None else None
        notices = IdentityNotices(
            outbox=outbox,
            tasks=tasks,
            accounts_of=people.accounts_of,
            speak=speak,
            signin=google.signin if google is not None else None,
            connection_changed=availability.forget if availability is not None else None,
        )
        events.subscribe(SignInFinished, lambda event: notices.signed_in(event.result))
        # One access gate for every platform: a stranger is refused once per window, then ignored; a finished
        # sign-in (allowed or not) gives that account a fresh decision at its next message.
        gate = StrangerGate(people, clock=clock)
        events.subscribe(SignInFinished, lambda event: gate.forget(event.identity))
        if google is not None:
            google.signin.approval.tell = notices.tell
        google_tools = (
            calendar_tools(google.calendar, availability, notices.reconnect_needed)
            if google is not None and availability is not None
            else []
        )
        reminders = build_reminders(db, speak, people, clock=clock, worker=worker_name(),
                                    max_active=settings.reminders_per_user)  # fmt: skip
        pending = PendingActions(db, clock=clock)  # Calendar changes asked for in shared threads wait for a yes
        calculator = Calculator()
        files = StoredFiles(db, clock=clock)
        image_limits = ImageLimits(max_megapixels=settings.max_image_megapixels)
        apply_pillow_limit(image_limits)
        images = SafeImages(image_limits)  # one per process: its gate lets one large decode run at a time
        limits = UsageLimits(
            LimitSettings(
                messages_per_minute=settings.messages_per_minute,
                messages_per_day=settings.messages_per_day,
                images_per_day=settings.images_per_day,
                waiting_per_conversation=settings.waiting_per_conversation,
                tool_calls_per_round=settings.tool_calls_per_round,
                tool_calls_per_turn=settings.tool_calls_per_turn,
                web_searches_per_day=settings.web_searches_per_day,
                calendar_changes_per_day=settings.calendar_changes_per_day,
            ),
            clock=clock,
            db=db,
        )
        agents = build_agents(settings, model, files.load_image, images=images)
        pipeline = TurnPipeline(tasks)
        tools = ToolRegistry.of(
            [*builtin_tools(calculator), *agents.tools, *confirm_first(google_tools, pending), *reminders.tools]
        )
        chat = ChatService(
            db=db,
            model=model,
            context=context,
            tools=tools,
            pipeline=pipeline,
            people=people,
            default_timezone=settings.default_timezone,
            checkpoint_interval=settings.checkpoint_interval,
            clock=clock,
            tasks=tasks,
            limits=limits,
            speaker=agents.speaker,
            media=MediaReader(
                files=files,
                transcriber=agents.transcriber,
                vision=agents.vision,
                messages=MessageRepository(db, clock=clock),
                counter=context.counter,
            ),
        )
        profiles = Profiles(db)  # every per-person setting is a field of the registry: /settings, the web form
        registry = build_settings_registry(settings, people, profiles, google=google, availability=availability)
        commands = CommandSet(chat, model, registry)
        features = FeatureContext(
            db=db, clock=clock, tasks=tasks, pipeline=pipeline, tools=tools, commands=commands, events=events,
            chat=chat, people=people, outbox=outbox, settings=registry, speak=speak,
        )  # fmt: skip
        install(features, Summaries(model, context, model_name=settings.summary_model or settings.chat_model))
        if availability is not None:
            pipeline.add_before_model(availability)
            pipeline.add_before_model(ConfirmationStep(pending, ToolRegistry.of(google_tools), clock=clock))
        parts = (
            GoogleParts(google.signin, google.connections, google.drive, google.calendar, availability)
            if google is not None and availability is not None
            else None
        )
        settings_page = build_settings_page(
            settings, db, people, registry, clock=clock,
            google_status=google.connections.status if google is not None else None,
        )  # fmt: skip
        ids.web.app.state.settings_page = settings_page
        # With SECRET_KEY, /account's single-use link signs in to the web app (bot/webapp), settings included.
        web_sessions = build_web_sessions(settings, db, people, clock=clock)
        handlers = IdentityCommands(
            chat=chat,
            linker=ids.linker,
            google=parts,
            settings_link=web_sessions.link_for if web_sessions is not None else None,
        )
        for command in identity_commands(handlers):
            commands.add(command)
        daily = build_daily(
            settings,
            db=db,
            chat=chat,
            model=model,
            outbox=outbox,
            speak=speak,
            files=files,
            images=images,
            clock=clock,
            drive=google.drive if google is not None else None,
            calendar=google.calendar if google is not None else None,
            tokens=google.tokens if google is not None else None,
            reconnect_needed=notices.reconnect_needed,
            follow_ups=reminders.follow_ups.offer,
        )
        pipeline.add_before_model(daily.context)
        for command in daily.commands:
            commands.add(command)
        for setting in (*daily.settings, voice_field(profiles), previews_field(profiles)):
            registry.add(setting)
        for command in voice_commands(VoiceCommands(chat=chat, speaker=agents.speaker)):
            commands.add(command)
        previews = LinkPreviews(people=people)
        for command in reminders.commands:
            commands.add(command)
        memory_feature = Memory(
            model,
            MemorySettings(
                embedding_dimensions=settings.embedding_dimensions,
                recall_token_budget=settings.recall_token_budget,
                recall_timeout=settings.recall_timeout,
                recall_wait=settings.recall_wait,
                similarity_floor=settings.memory_similarity_floor,
                text_match=settings.memory_text_match,
                search_limit=settings.memory_search_limit,
                extraction=settings.memory_extraction,
                index_budget_mb=settings.memory_index_budget_mb,
                index_dir=str(settings.data_dir / "index"),
            ),
            context.counter,
            default_timezone=settings.default_timezone,
        )
        install(features, memory_feature)
        memory = memory_feature.services
        assert memory is not None
        add_forget_me_cleanup(
            memory.commands,
            data_dir=settings.data_dir,
            accounts_of=people.accounts_of,
            google=google.connections if google is not None else None,
            pdfs=daily.job.pdfs,
        )
        commands.add(export_data_command(db, user_of=people.user_of, outbox=outbox, clock=clock, pdfs=daily.job.pdfs))
        if web_sessions is not None:
            ids.web.app.state.webapp = build_webapp(
                settings, db=db, chat=chat, sessions=web_sessions, people=people, memory=memory, daily=daily,
                google=google, linker=ids.linker, clock=clock,
            )  # fmt: skip
        return cls(
            previews=previews,
            settings=settings,
            db=db,
            model=model,
            chat=chat,
            commands=commands,
            people=people,
            tasks=tasks,
            outbox=outbox,
            clock=clock,
            calculator=calculator,
            agents=agents,
            identity=ids,
            notices=notices,
            events=events,
            gate=gate,
            daily=daily,
            memory=memory,
            reminders=reminders,
            speak=speak,
        )

    async def close(self) -> None:
        """Stop background work first (it may still use the model and the database), then the clients."""
        if self.webapp is not None:
            await self.webapp.live.close()  # web answers being written are stored as partial
        if self.daily is not None:
            await self.daily.scheduler.stop()
        if self.reminders is not None:
            await self.reminders.runner.stop()
        await self.chat.close()
        if self.daily is not None:
            self.daily.close()
        await self.agents.close()
        self.calculator.close()
        await self.model.close()
        await self.db.dispose()
