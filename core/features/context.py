"""The narrow context a feature installs against: shared process services, never the chat service's insides."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from core.chat import ChatService
from core.chat.pipeline import TurnPipeline
from core.clock import Clock, Sleep
from core.commands import Command, CommandSet
from core.db.database import Database
from core.events import EventBus
from core.messenger import Outbox
from core.people import People
from core.tasks import BackgroundTasks
from core.tools.registry import ToolRegistry

# The assistant starts a turn of its own in a person's conversation (core/speak); None until it is wired.
Speak = Callable[..., Awaitable[object]]


class SettingsFields(Protocol):
    """What features need of the settings registry (core/settings/registry.py): a place to add their fields,
    and to hear each stored change in this process (user id, names of the fields changed)."""

    def add(self, field: Any, /) -> None: ...

    def subscribe(self, listener: Callable[[int, frozenset[str]], None], /) -> None: ...


@dataclass(frozen=True)
class FeatureContext:
    """What a feature may use while it installs and afterwards.

    ``chat`` offers its public operations only (turns, /new, /forget-me, access decisions);
    ``commands`` holds the commands installed so far (a feature may build on one, e.g. /settings).
    """

    db: Database
    clock: Clock
    tasks: BackgroundTasks
    pipeline: TurnPipeline
    tools: ToolRegistry
    commands: CommandSet
    events: EventBus
    chat: ChatService
    people: People
    outbox: Outbox | None = None
    settings: SettingsFields | None = None
    speak: Speak | None = None
    sleep: Sleep = asyncio.sleep  # waits on the clock (retries, sweeps): a test's ManualClock.sleep

    def command(self, name: str) -> Command | None:
        """The command installed so far under ``name`` (a feature may extend it)."""
        return self.commands.commands.get(name)
