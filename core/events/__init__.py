"""The in-process event bus and its typed events (see docs/architecture.md, "Events")."""

from core.events.bus import EventBus, Handler
from core.events.kinds import (
    AccountLinked,
    AnswerComplete,
    DayPosted,
    Event,
    GoogleBroken,
    GoogleConnected,
    PersonForgotten,
    SignInFinished,
)

__all__ = [
    "AccountLinked",
    "AnswerComplete",
    "DayPosted",
    "Event",
    "EventBus",
    "GoogleBroken",
    "GoogleConnected",
    "Handler",
    "PersonForgotten",
    "SignInFinished",
]
