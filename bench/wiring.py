"""The core as the benchmarks build it, part by part as bot/container.py does, so a benchmark takes the
people, the background tasks and the pipeline from here and never reads them out of the chat service.

:func:`build_core` gives the chat service with the parts it was built from; :meth:`BenchCore.install`
adds a feature unit (memory, summaries) through the same narrow context the container gives it;
:func:`discord_service` and :func:`slack_service` start the real adapters on a platform fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapters.strangers import StrangerGate
from core.access import AccessPolicy
from core.chat import ChatService
from core.chat.pipeline import TurnPipeline
from core.clock import Clock, system_clock
from core.commands import CommandSet
from core.context import ContextBuilder
from core.db.database import Database
from core.events import EventBus
from core.features import Feature, FeatureContext, FeatureParts, install
from core.llm import ChatModel
from core.people import People
from core.tasks import BackgroundTasks
from core.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from adapters.discord import DiscordService
    from adapters.slack import SlackService
    from tests.fakes.discord_server import FakeDiscord
    from tests.fakes.slack_server import FakeSlack


@dataclass
class BenchCore:
    """A chat service and the shared parts it was built from."""

    db: Database
    model: ChatModel
    chat: ChatService
    people: People
    tasks: BackgroundTasks
    pipeline: TurnPipeline
    tools: ToolRegistry
    commands: CommandSet
    events: EventBus
    clock: Clock

    def install(self, feature: Feature) -> FeatureParts:
        """Install ``feature`` (e.g. ``Memory``, ``Summaries``) as the container would."""
        context = FeatureContext(
            db=self.db, clock=self.clock, tasks=self.tasks, pipeline=self.pipeline, tools=self.tools,
            commands=self.commands, events=self.events, chat=self.chat, people=self.people,
        )  # fmt: skip
        return install(context, feature)

    def gate(self) -> StrangerGate:
        """The access gate a platform service needs (one per process in the bot)."""
        return StrangerGate(self.people, clock=self.clock)


def build_core(
    db: Database,
    model: ChatModel,
    context: ContextBuilder,
    *,
    tools: ToolRegistry,
    allowed: Sequence[str],
    clock: Clock = system_clock,
    checkpoint_interval: float = 1.0,
    default_timezone: str = "UTC",
) -> BenchCore:
    """The chat service on ``db`` and ``model``, for the accounts matching ``allowed`` (e.g. ``"slack:*"``)."""
    people = People(db, accounts=AccessPolicy(tuple(allowed)), clock=clock)
    tasks = BackgroundTasks()
    pipeline = TurnPipeline(tasks)
    chat = ChatService(
        db=db, model=model, context=context, tools=tools, people=people, tasks=tasks, pipeline=pipeline,
        clock=clock, checkpoint_interval=checkpoint_interval, default_timezone=default_timezone,
    )  # fmt: skip
    commands = CommandSet(chat, model)  # type: ignore[arg-type]
    return BenchCore(db, model, chat, people, tasks, pipeline, tools, commands, EventBus(), clock)


def discord_service(core: BenchCore, fake: FakeDiscord) -> DiscordService:
    """The real Discord adapter pointed at ``fake`` (not started)."""
    from adapters.discord import DiscordService

    return DiscordService(
        token=fake.bot_token, chat=core.chat, commands=core.commands, api_url=fake.api_url,
        gateway_url=fake.gateway_url, guild_ready_timeout=0.1, gate=core.gate(),
    )  # fmt: skip


def slack_service(core: BenchCore, fake: FakeSlack, *, native: bool = False, **settings: Any) -> SlackService:
    """The real Slack adapter in Socket Mode pointed at ``fake`` (not started), built as the bot builds it;
    ``native``: answers streamed with Slack's native streaming instead of edits of a placeholder."""
    from bot.config import Settings
    from bot.platforms import slack_service as build

    config = Settings(  # type: ignore[call-arg]
        _env_file=None,
        slack_bot_token=fake.bot_token,
        slack_app_token=fake.app_token,
        slack_api_url=fake.api_url,
        slack_native_streaming=native,
        **settings,
    )
    return build(config, chat=core.chat, gate=core.gate(), commands=core.commands)
