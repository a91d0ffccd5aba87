"""Builds the process's `speak` from the model and the context builder the answers use."""

from __future__ import annotations

from core.clock import Clock
from core.context import ContextBuilder
from core.daily.prefs import preferred_platform
from core.db.database import Database
from core.llm import ChatModel
from core.messenger import Outbox
from core.speak.compose import Composer
from core.speak.service import Speak
from core.toolloop.loop import ToolLoop


def build_speak(
    database: Database, outbox: Outbox, model: ChatModel, context: ContextBuilder, *, clock: Clock,
    default_timezone: str,
) -> Speak:  # fmt: skip
    """`speak` for fixed texts and prompts, writing with the same model and context as the answers."""
    composer = Composer(database, context=context, loop=ToolLoop(model), clock=clock, default_timezone=default_timezone)
    # The platform chosen with /settings daily-platform is where what the assistant starts goes first.
    return Speak(
        database, outbox, clock=clock, composer=composer, count=context.counter.count, chosen=preferred_platform
    )
