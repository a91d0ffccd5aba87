"""The events features publish on the bus (core/events/bus.py). Plain, frozen data: ids, not rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.identity.results import SignInResult
    from core.types import PlatformIdentity


class Event:
    """Base of every event: subscribe to it to see them all (a log, a test)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SignInFinished(Event):
    """A step of a web sign-in finished for an account (signed in, refused, connected, waiting to confirm…).

    The web server publishes it for every callback and confirmation that names an account."""

    result: SignInResult

    @property
    def identity(self) -> PlatformIdentity:
        assert self.result.identity is not None  # published only for results that name an account
        return self.result.identity


@dataclass(frozen=True, slots=True)
class AccountLinked(Event):
    """An account was linked to (or unlinked from, ``user_id`` None) a person."""

    identity: PlatformIdentity
    user_id: int | None


@dataclass(frozen=True, slots=True)
class GoogleConnected(Event):
    """A person connected Google (Drive, Calendar) through the web flow."""

    user_id: int


@dataclass(frozen=True, slots=True)
class GoogleBroken(Event):
    """Google refused a person's stored connection (revoked or expired) while working for them: they must
    connect again. Published by what met the refusal (a Calendar tool, the day's upload)."""

    user_id: int


@dataclass(frozen=True, slots=True)
class PersonForgotten(Event):
    """Everything stored about a person was deleted (/forget-me): drop what you cache about them."""

    user_id: int


@dataclass(frozen=True, slots=True)
class DayPosted(Event):
    """A person's daily log for ``day`` was posted to them."""

    user_id: int
    day: date


@dataclass(frozen=True, slots=True)
class AnswerComplete(Event):
    """The assistant finished an answer in a conversation (stored complete)."""

    user_id: int
    conversation_id: int
    message_id: int
