"""/history for the terminal: how many messages the user asked for, and each stored message as a safe line."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from rich.markup import escape

from adapters.terminal.safe_text import printable
from core.timefmt import stamp
from core.types import StoredMessage

DEFAULT_COUNT = 20
MAX_COUNT = 200
_COUNT = re.compile(r"[0-9]+", re.ASCII)  # str.isdigit() also accepts "²", which int() refuses


class CountError(ValueError):
    """The argument of /history is not a count from 1 to :data:`MAX_COUNT`; the message says so."""


def history_count(argument: str) -> int:
    """The number of messages ``/history ARGUMENT`` asks for; raises :class:`CountError` with a sentence."""
    argument = argument.strip()
    if not argument:
        return DEFAULT_COUNT
    if _COUNT.fullmatch(argument) and len(argument) <= 6 and 1 <= int(argument) <= MAX_COUNT:
        return int(argument)
    shown = printable(argument if len(argument) <= 30 else argument[:30] + "…", newlines=False)
    raise CountError(
        f"“{shown}” is not a number of messages: give one from 1 to {MAX_COUNT}, e.g. /history 50 "
        f"(just /history shows the last {DEFAULT_COUNT})."
    )


def history_line(message: StoredMessage, tz: ZoneInfo) -> str:
    """One stored message as rich markup: time, who, marks (failed with its reason), the text made printable."""
    who = "you" if message.role == "user" else "assistant"
    marks = []
    if message.deleted_at:
        marks.append("deleted")
    if message.edited_at:
        marks.append("edited")
    if message.forgotten_at:
        marks.append("forgotten")
    if message.status != "complete":
        reason = (message.status_reason or "").strip()
        marks.append(f"{message.status}: {reason}" if reason else message.status)
    suffix = f" [dim]({escape(printable(', '.join(marks), newlines=False))})[/]" if marks else ""
    return f"[dim]{stamp(message.created_at, tz)}[/] [bold]{who}[/]{suffix}: {escape(printable(message.content))}"
