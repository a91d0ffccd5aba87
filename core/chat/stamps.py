"""Answers never begin with a time stamp, even when a model imitates the stamps on user messages."""

from __future__ import annotations

import re

LEADING_STAMP = re.compile(
    r"\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d{2}-\d{2} \d{2}:\d{2}(?: [A-Za-z0-9+\-:/_]{1,32})?\]"
)
# Longest text that may still turn out to be a stamp: held back until it is decided.
MAX_STAMP = 48


class LeadingStampFilter:
    """Drops a stamp like ``[Tue 2026-11-24 09:05 CET]`` (and the white space after it) from an answer's start.

    Text is held back only while it could still be such a stamp (at most
    :data:`MAX_STAMP` characters); everything else passes through at once.
    """

    def __init__(self) -> None:
        self._held = ""
        self._decided = False
        self._skip_space = False

    def feed(self, text: str) -> str:
        """The part of ``text`` that may be shown now."""
        if self._skip_space:
            text = text.lstrip()
            if not text:
                return ""
            self._skip_space = False
        if self._decided:
            return text
        self._held += text
        held = self._held
        if not held.startswith("["):
            return self._release()
        match = LEADING_STAMP.match(held)
        if match:
            self._held, self._decided = "", True
            rest = held[match.end() :].lstrip()
            self._skip_space = not rest
            return rest
        if "]" in held or len(held) > MAX_STAMP:
            return self._release()
        return ""

    def flush(self) -> str:
        """What is still held back, once the model has finished a stream."""
        self._skip_space = False
        return self._release()

    def _release(self) -> str:
        held, self._held, self._decided = self._held, "", True
        return held
