"""The one wiring point: builds every service once and passes dependencies down."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.agents import Agents, build_agents
from bot.config import Settings
from bot.errors import ConfigError, first_line
from core.access import AccessPolicy
from core.chat import ChatService
from core.chat.media import MediaReader
from core.clock import Clock, system_clock
from core.commands import CommandSet
from core.context import ContextBuilder
from core.db.database import Database
from core.db.repositories import MessageRepository
from core.llm import OPENAI_DEFAULT_BASE_URL, OpenAIModel
from core.media.files import StoredFiles
from core.messenger import Outbox
from core.people import People
from core.summaries import add_rolling_summaries
from core.tasks import BackgroundTasks
from core.tokens import TokenCounter
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator
from core.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


def api_key_for(settings: Settings) -> str:
    """The key to send; local OpenAI-compatible servers (Ollama, vLLM, LM Studio) need none."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    if key:
        return key
    if settings.openai_base_url.rstrip("/") == OPENAI_DEFAULT_BASE_URL:
        raise ConfigError(
            "OPENAI_API_KEY is not set: put your key in .env (see .env.example), "
            "or set OPENAI_BASE_URL to a local OpenAI-compatible server."
        )
    return "not-needed"


def build_model(settings: Settings) -> OpenAIModel:
    return OpenAIModel(
        api_key=api_key_for(settings),
        base_url=settings.openai_base_url,
        models=settings.models,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
    )


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

    @classmethod
    async def create(cls, settings: Settings) -> Container:
        """Build the services; migrates the database first when ``AUTO_MIGRATE`` is on."""
        model = build_model(settings)
        db = Database(settings.database_url)
        try:
            if settings.auto_migrate:
                await db.migrate()
            elif await db.pending_migrations():
                raise ConfigError("The database schema is out of date: run `python -m bot migrate`.")
        except (SQLAlchemyError, OSError) as exc:
            await db.dispose()
            raise ConfigError(f"The database at {db.display_url} cannot be used: {first_line(exc)}") from exc
        counter = TokenCounter(settings.chat_model)
        clock: Clock = system_clock
        tasks = BackgroundTasks()
        accounts = AccessPolicy(settings.allowed_accounts)
        for warning in accounts.warnings():
            log.warning("ALLOWED_ACCOUNTS: %s", warning)
        people = People(db, accounts=accounts, clock=clock)
        calculator = Calculator()
        files = StoredFiles(db, clock=clock)
        agents = build_agents(settings, model, files.load_image)
        chat = ChatService(
            db=db,
            model=model,
            context=ContextBuilder(
                counter, token_budget=settings.context_token_budget, assistant_name=settings.assistant_name
            ),
            tools=ToolRegistry.of([*builtin_tools(calculator), *agents.tools]),
            people=people,
            default_timezone=settings.default_timezone,
            checkpoint_interval=settings.checkpoint_interval,
            clock=clock,
            tasks=tasks,
            media=MediaReader(
                files=files,
                transcriber=agents.transcriber,
                vision=agents.vision,
                messages=MessageRepository(db, clock=clock),
                counter=counter,
            ),
        )
        add_rolling_summaries(chat, model, model_name=settings.summary_model or settings.chat_model)
        return cls(
            settings=settings,
            db=db,
            model=model,
            chat=chat,
            commands=CommandSet(chat, model),
            people=people,
            tasks=tasks,
            outbox=Outbox(people),
            clock=clock,
            calculator=calculator,
            agents=agents,
        )

    async def close(self) -> None:
        """Stop background work first (it may still use the model and the database), then the clients."""
        await self.chat.close()
        await self.agents.close()
        self.calculator.close()
        await self.model.close()
        await self.db.dispose()
