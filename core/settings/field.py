"""One per-person setting, declared once by the feature it belongs to.

A :class:`SettingField` says everything every view needs: its name (Discord's
option, the web form's input, ``/settings daily-time`` on one-line platforms),
how a typed value is read and checked (:class:`Invalid` carries the sentence
for the person), where the value is stored and how it is read back, what the
overview line and the confirmation say, and how the web form shows it.

Who may change a field: a person changes only their own value, once admitted
(the registry looks the caller up itself); a field ``unavailable`` on this
assistant can be changed by nobody, and says why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.db.repositories import UserRecord


class Invalid(Exception):
    """A typed value the field refuses; ``str(exc)`` is the sentence for the person (nothing is stored)."""


@dataclass(frozen=True, slots=True)
class Asker:
    """Who looks at or changes settings, and where: the platform decides how hints are written."""

    person: UserRecord  # read fresh from the database for this request
    platform: str  # "discord", "slack", "terminal", "web", …


Parser = Callable[[str, Asker], Awaitable[Any]]  # a typed value -> the value to store, or raises Invalid
Reader = Callable[[UserRecord], Any]  # the stored value; None while the person keeps the default
# Store a parsed value for this user id, without telling the caches: the registry tells them once per change.
Writer = Callable[[int, Any], Awaitable[None]]
Describer = Callable[[Any, Asker, Callable[[str], str]], str]  # (stored, asker, hint(example)) -> a line


@dataclass(frozen=True, slots=True)
class SettingField:
    """A setting: declared once, shown and changed by every view (``/settings``, the web form).

    ``describe`` gets the stored value (None: the default), the asker and ``hint``, which turns an
    example value into the platform's syntax ("/settings daily_time:22:30" on Discord, "/settings
    daily-time 22:30" elsewhere). ``saved`` phrases a stored change; ``shown`` turns a stored value into
    the text of the web form's input ("" for the default). ``aliases``: other names typed for it. ``choices`` (value, label) make the web form
    a select; ``placeholder`` and ``form_hint`` help there. ``required``: the sentence when the form leaves it
    empty ("": an empty input keeps the stored value).
    """

    name: str
    label: str
    help: str
    parse: Parser
    read: Reader
    write: Writer
    describe: Describer
    saved: Callable[[Any], str]
    shown: Callable[[Any], str] = lambda value: "" if value is None else str(value)
    choices: Callable[[], Sequence[tuple[str, str]]] | None = None
    placeholder: str = ""
    form_hint: str = ""
    required: str = ""
    max_length: int = 200
    unavailable: str | None = None
    aliases: tuple[str, ...] = ()  # other names a person may type ("time zone", "tz")

    @property
    def typed_name(self) -> str:
        """How the name is typed on one-line platforms: ``daily-time``."""
        return self.name.replace("_", "-")
