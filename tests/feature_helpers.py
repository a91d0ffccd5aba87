"""Install feature units on a test's chat service: the context the container would give them."""

from __future__ import annotations

from core.chat import ChatService
from core.commands import CommandSet
from core.events import EventBus
from core.features import Feature, FeatureContext, FeatureParts, SettingsFields, install
from core.llm import ChatModel, OpenAIModel
from core.memory.wiring import LongTermMemory, Memory, MemorySettings
from core.messenger import Outbox
from core.speak import Speak
from core.summaries import RollingSummaries, Summaries


def feature_context(
    chat: ChatService,
    *,
    commands: CommandSet | None = None,
    events: EventBus | None = None,
    outbox: Outbox | None = None,
    settings: SettingsFields | None = None,
    speak: Speak | None = None,
) -> FeatureContext:
    """The context of the chat service's own pipeline, tools and tasks (tests may look inside the chat)."""
    return FeatureContext(
        db=chat.db,
        clock=chat.clock,
        tasks=chat.tasks,
        pipeline=chat.pipeline,
        tools=chat.tools,
        commands=commands if commands is not None else CommandSet(chat, chat.model),  # type: ignore[arg-type]
        events=events if events is not None else EventBus(),
        chat=chat,
        people=chat.people,
        outbox=outbox,
        settings=settings,
        speak=speak,
        sleep=chat.sleep,
    )


def install_on(chat: ChatService, feature: Feature, **options: object) -> FeatureParts:
    """Install ``feature`` on ``chat`` (``options``: those of :func:`feature_context`)."""
    return install(feature_context(chat, **options), feature)  # type: ignore[arg-type]


def add_memory(
    chat: ChatService,
    model: OpenAIModel,
    settings: MemorySettings,
    *,
    commands: CommandSet | None = None,
    events: EventBus | None = None,
    default_timezone: str = "UTC",
) -> LongTermMemory:
    """The memory feature installed on ``chat`` (its /memory and /forget-me on ``commands``); its services."""
    feature = Memory(model, settings, chat.counter, default_timezone=default_timezone)
    install_on(chat, feature, commands=commands, events=events)
    assert feature.services is not None
    return feature.services


def add_summaries(chat: ChatService, model: ChatModel, *, model_name: str | None = None) -> RollingSummaries:
    """The rolling-summaries feature installed on ``chat``."""
    feature = Summaries(model, chat.context, model_name=model_name)
    install_on(chat, feature)
    assert feature.rolling is not None
    return feature.rolling
