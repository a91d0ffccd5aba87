"""A feature unit: what one capability adds to the assistant, declared in one place (like discord.py's cogs).

A feature is an object with a ``name`` and an ``install(context)`` that builds its
services from the narrow :class:`~core.features.context.FeatureContext` and returns
:class:`FeatureParts`: its pipeline steps, tools, commands, settings fields, event
subscriptions and background work. :func:`core.features.host.install` plugs those
parts in; the feature never reaches into the chat service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.chat.steps import AfterAnswerStep, BeforeModelStep, HistoryListener
from core.commands import Command
from core.events import Event, Handler
from core.tools.registry import ToolBase

if TYPE_CHECKING:
    from core.features.context import FeatureContext

Work = Callable[[], Awaitable[object]]
Loop = Callable[[asyncio.Event], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """``handler`` is called with every published event of type ``kind``."""

    kind: type[Event]
    handler: Handler[Any]


@dataclass(frozen=True, slots=True)
class FeatureParts:
    """Everything a feature adds. Steps run in the order features are listed in the container.

    ``settings`` are fields for the settings registry (``core/settings``); ``tasks`` start once at
    install (``(name, work)``), ``loops`` run until the process stops (``(name, loop(stopping))``).
    """

    before_model: Sequence[BeforeModelStep] = ()
    after_answer: Sequence[AfterAnswerStep] = ()
    history_listeners: Sequence[HistoryListener] = ()
    tools: Sequence[ToolBase] = ()
    commands: Sequence[Command] = ()
    settings: Sequence[object] = ()
    subscriptions: Sequence[Subscription] = ()
    tasks: Sequence[tuple[str, Work]] = ()
    loops: Sequence[tuple[str, Loop]] = ()


class Feature(Protocol):
    """One capability of the assistant (memory, the daily log, reminders…)."""

    name: str

    def install(self, context: FeatureContext) -> FeatureParts:
        """Build the feature's services against ``context`` and declare what it adds."""
        ...
