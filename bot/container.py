"""The one wiring point: builds every service once and passes dependencies down."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic.util import CommandError as AlembicError
from sqlalchemy.exc import SQLAlchemyError

from adapters.strangers import StrangerGate
from bot.agents import Agents, AgentTools, build_agents
from bot.config import Settings
from bot.daily_wiring import DailyLog, DailyServices, worker_name
from bot.errors import ConfigError, first_line
from bot.forget_wiring import add_forget_me_cleanup
from bot.identity_wiring import IdentityAndGoogle, IdentityServices, build_identity, build_web_server, tidy_at_start
from bot.model import api_key_for, build_context, build_model  # noqa: F401 - part of this module's interface
from bot.scheduler import DailyScheduler
from bot.service_settings import memory_settings, usage_limits
from bot.settings_page import SettingsPage
from bot.settings_wiring import build_settings_page, build_settings_registry
from bot.web import WebServer
from bot.webapp import WebApp
from bot.webapp.messenger import WebMessenger
from bot.webapp_wiring import build_web_sessions, build_webapp
from core.access import AccessPolicy
from core.chat import ChatService
from core.chat.media import MediaReader
from core.chat.pipeline import TurnPipeline
from core.clock import Clock, system_clock
from core.commands import CommandSet
from core.data_export.unit import DataExport
from core.db.database import Database
from core.db.repositories import MessageRepository
from core.events import EventBus, SignInFinished
from core.features import FeatureContext, install_all
from core.features.announce import AnswerEvents
from core.google.availability import GoogleAvailability
from core.identity.notices import IdentityNotices
from core.link_previews import LinkPreviews, Previews
from core.llm import OpenAIModel
from core.media.files import StoredFiles
from core.media.safe_image import ImageLimits, SafeImages, apply_pillow_limit
from core.media.unit import Voice
from core.memory.wiring import LongTermMemory, Memory
from core.messenger import Outbox
from core.people import People
from core.reminders.runner import ReminderRunner
from core.reminders.unit import Reminders, RemindersFeature
from core.speak import Speak, build_speak
from core.summaries import Summaries
from core.tasks import BackgroundTasks
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
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
    web: WebServer | None = None  # built last, with all it serves; run by `web_services`
    settings_page: SettingsPage | None = None
    webapp: WebApp | None = None  # the web app's services (bot/webapp), or None without SECRET_KEY

    def web_services(self) -> list[WebServer]:
        """The one web server, to run beside the platforms when something needs it: Google sign-in (its
        callbacks), Slack's HTTP mode (``/slack/events``), the settings page and the web app (with ``SECRET_KEY``)."""
        settings = self.settings
        slack_http = settings.slack_configured and settings.slack_mode == "http"
        page, app = self.settings_page is not None, self.webapp is not None
        wanted = self.identity.google is not None or slack_http or page or app
        return [self.web] if self.web is not None and wanted else []

    def scheduled_services(self, *, reachable_only: bool = False) -> list[DailyScheduler | ReminderRunner]:
        """The daily-log trigger and the reminders, to run beside the platforms (``captainslog run``) or the
        terminal chat.

        `reachable_only`: close only the days of people this process can post to, and send only the
        reminders asked in the terminal (the terminal chat's), and on the web when this process serves it
        (call it once the web server runs).
        """
        services: list[DailyScheduler | ReminderRunner] = []
        if self.daily is not None:
            if reachable_only:
                self.daily.runner.deliverable = self.outbox.can_reach
            services.append(self.daily.scheduler)
        if self.reminders is not None:
            if reachable_only:  # the web app's too when this process serves it (its messenger is registered)
                self.reminders.runner.platforms = ("terminal", *(p for p in self.outbox.platforms if p == "web"))
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
        )
        # One access gate for every platform: a stranger is refused once per window, then ignored; a finished
        # sign-in (allowed or not) gives that account a fresh decision at its next message.
        gate = StrangerGate(people, clock=clock)
        events.subscribe(SignInFinished, lambda event: gate.forget(event.identity))
        if google is not None:
            google.signin.approval.tell = notices.tell
        calculator = Calculator()
        files = StoredFiles(db, clock=clock)
        image_limits = ImageLimits(max_megapixels=settings.max_image_megapixels)
        apply_pillow_limit(image_limits)
        images = SafeImages(image_limits)  # one per process: its gate lets one large decode run at a time
        agents = build_agents(settings, model, files.load_image, images=images)
        pipeline = TurnPipeline(tasks)
        tools = ToolRegistry.of(builtin_tools(calculator))  # the features add theirs
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
            limits=usage_limits(settings, db, clock),
            speaker=agents.speaker,
            media=MediaReader(
                files=files,
                transcriber=agents.transcriber,
                vision=agents.vision,
                messages=MessageRepository(db, clock=clock),
                counter=context.counter,
            ),
        )
        registry = build_settings_registry(settings, people)  # /settings and the web form are its views
        commands = CommandSet(chat, model, registry)
        settings_page = build_settings_page(
            settings, db, people, registry, clock=clock,
            google_status=google.connections.status if google is not None else None,
        )  # fmt: skip
        # With SECRET_KEY, /account's single-use link signs in to the web app (bot/webapp), settings included.
        web_sessions = build_web_sessions(settings, db, people, clock=clock)
        features = FeatureContext(
            db=db, clock=clock, tasks=tasks, pipeline=pipeline, tools=tools, commands=commands, events=events,
            chat=chat, people=people, outbox=outbox, settings=registry, speak=speak,
        )  # fmt: skip
        link = web_sessions.link_for if web_sessions is not None else None
        identity = IdentityAndGoogle(ids, notices, availability, default_folder=settings.assistant_name,
                                     settings_link=link)  # fmt: skip
        reminders = RemindersFeature(worker=worker_name(), max_active=settings.reminders_per_user,
                                     calendar=google.calendar if google is not None else None)  # fmt: skip
        daily = DailyLog(settings, model=model, files=files, images=images, google=google,
                         follow_ups=reminders.offer_follow_ups)  # fmt: skip
        previews = Previews()
        memory = Memory(model, memory_settings(settings), context.counter, default_timezone=settings.default_timezone)
        # The features, in order: their steps run, tools are offered, commands and settings listed in this order.
        install_all(features, [
            AgentTools(agents),
            Summaries(model, context, model_name=settings.summary_model or settings.chat_model),
            identity,
            daily,
            Voice(agents.speaker),
            previews,
            reminders,
            memory,
            DataExport(pdfs=daily.pdfs),
            AnswerEvents(),
        ])  # fmt: skip
        assert daily.services is not None and memory.services is not None
        add_forget_me_cleanup(
            memory.services.commands,
            data_dir=settings.data_dir,
            accounts_of=people.accounts_of,
            google=google.connections if google is not None else None,
            pdfs=daily.pdfs,
        )
        webapp = None
        if web_sessions is not None:
            webapp = build_webapp(
                settings, db=db, chat=chat, sessions=web_sessions, people=people, memory=memory.services,
                daily=daily.services, google=google, linker=ids.linker, commands=commands, clock=clock,
                reminders=reminders.services.actions if reminders.services is not None else None,
            )  # fmt: skip
        web = build_web_server(settings, ids, settings_page=settings_page, webapp=webapp)
        if webapp is not None:  # `speak` reaches the web chat while the server runs
            messenger = WebMessenger(db, webapp.live, webapp.sessions, clock=clock)
            web.while_serving(lambda: outbox.register(messenger, accounts=messenger), lambda: outbox.unregister("web"))
        return cls(
            previews=previews.previews,
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
            daily=daily.services,
            memory=memory.services,
            reminders=reminders.services,
            speak=speak,
            web=web,
            settings_page=settings_page,
            webapp=webapp,
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
