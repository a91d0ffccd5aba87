"""Cutting an answer's text for messages: message-sized pieces, and where to stop a shortened one.

Each piece's ``body`` is an exact slice of the answer, so joining the bodies
gives the answer back character for character; a code fence cut in two is
closed at the end of one piece and reopened (same language) at the start of the
next, in ``closing``/``opening``.  Pieces are sealed only once the text beyond
them exists, and a sealed piece never changes as the answer grows.

The renderer's smaller cuts live here too: a good place to end a message cut
short (:func:`last_break`), the fence lines that close or reopen a code block
cut there (:func:`closing_fence`, :func:`open_fence`), and a clipped line
(:func:`clip`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})([^\n`]*)$", re.MULTILINE)
# Room for a reopened fence line ("```python\n") and a closing one ("\n```").
FENCE_ROOM = 40


@dataclass(frozen=True, slots=True)
class Piece:
    """One message's share of the answer."""

    body: str
    opening: str = ""
    closing: str = ""

    def render(self) -> str:
        return self.opening + self.body + self.closing


def find_cut(text: str, limit: int) -> int:
    """Where to end a piece of at most ``limit`` characters of ``text``.

    Prefers the end of a paragraph, then of a line, then of a sentence, then a
    space; cuts mid-word only when a "word" is longer than half a message.
    """
    if len(text) <= limit:
        return len(text)
    window = text[:limit]
    for separator, floor in (("\n\n", 0.5), ("\n", 0.5), (". ", 0.6), (" ", 0.5)):
        at = window.rfind(separator)
        if at >= 0 and at + len(separator) >= limit * floor:
            return at + len(separator)
    return limit


@dataclass(frozen=True, slots=True)
class _FenceState:
    marker: str = ""  # the fence that is open ("```"), or "" outside code
    info: str = ""  # its info string (language)


def _fence_after(text: str, state: _FenceState) -> _FenceState:
    """Fence state at the end of ``text`` given the state at its start."""
    for match in FENCE.finditer(text):
        marker, info = match.group(1), match.group(2).strip()
        if not state.marker:
            state = _FenceState(marker, info)
        elif marker[0] == state.marker[0] and len(marker) >= len(state.marker) and not info:
            state = _FenceState()
    return state


class Splitter:
    """Incrementally cuts a growing answer into pieces of at most ``limit`` rendered characters.

    ``reserve`` is room kept free in every piece for what the renderer adds
    while streaming (the typing marker, a status line, an error note).
    ``measure`` gives the length of a piece's text as the platform will show
    it, for platforms whose markup is longer than Markdown (Slack escapes
    ``<`` as ``&lt;``); pieces are cut so that this length fits.
    """

    def __init__(self, limit: int, *, reserve: int = 0, measure: Callable[[str], int] = len) -> None:
        self.room = limit - reserve
        self.capacity = self.room - FENCE_ROOM
        if self.capacity < 100:
            raise ValueError("message limit too small for the reserve")
        self.measure = measure
        self.sealed: list[Piece] = []
        self._sealed_end = 0
        self._state = _FenceState()

    def pieces(self, text: str) -> list[Piece]:
        """All pieces of ``text`` (the whole answer so far): the sealed ones, then the open one."""
        while True:
            rest = text[self._sealed_end :]
            if len(rest) > self.capacity or (rest and not self._fits(self._piece(rest))):
                self._seal(text)
            else:
                break
        if not rest and self.sealed:
            return list(self.sealed)
        return [*self.sealed, self._piece(rest)]

    def _piece(self, body: str) -> Piece:
        # While streaming, an open code block is closed for display; it is the
        # real text that closes it in the end.
        end_state = _fence_after(body, self._state)
        return Piece(body, self._opening(self._state), _closing(body, end_state) if end_state.marker else "")

    def _fits(self, piece: Piece) -> bool:
        return self.measure(piece.opening + piece.body) + len(piece.closing) <= self.room

    def _seal(self, text: str) -> None:
        start = self._sealed_end
        limit = self.capacity
        while True:
            cut = start + find_cut(text[start:], limit)
            piece = self._piece(text[start:cut])
            if self._fits(piece) or limit <= 50:
                break
            limit = max(50, int(limit * 0.8))  # the markup made it longer: cut earlier
        self.sealed.append(piece)
        self._sealed_end = cut
        self._state = _fence_after(piece.body, self._state)

    @staticmethod
    def _opening(state: _FenceState) -> str:
        return f"{state.marker}{state.info}\n" if state.marker else ""


def _closing(body: str, state: _FenceState) -> str:
    return ("" if body.endswith("\n") else "\n") + state.marker


def split_text(text: str, limit: int) -> list[str]:
    """Split a finished text into rendered messages of at most ``limit`` characters."""
    return [piece.render() for piece in Splitter(limit).pieces(text)]


def open_fence(text: str) -> str:
    """The fence line that reopens the code block ``text`` ends inside, or ``""`` outside code.

    A message that continues an answer from the middle of a code block starts with it.
    """
    state = _fence_after(text, _FenceState())
    return f"{state.marker}{state.info}\n" if state.marker else ""


def last_break(text: str, start: int, end: int) -> int:
    """Where a message showing ``text[start:end]`` had best stop: after a line, sentence or word."""
    if end >= len(text) or end <= start:
        return max(start, min(end, len(text)))
    shown = text[start:end]
    for separator in ("\n", ". ", " "):
        at = shown.rfind(separator)
        if at > 0 and at + len(separator) >= len(shown) * 0.5:
            return start + at + len(separator)
    return end


def closing_fence(text: str) -> str:
    """The line that closes the code block ``text`` ends inside, or ``""``."""
    opening = open_fence(text)
    if not opening:
        return ""
    marker = opening[: len(opening) - len(opening.lstrip(opening[0]))]
    return ("" if text.endswith("\n") else "\n") + marker


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
