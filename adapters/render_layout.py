"""Layout of an answer into platform messages: pure, from the answer's state to what each message shows.

The renderer keeps one list of :class:`Part` (a platform message and what it
shows); :class:`Layout` says what the messages *should* show for the text so
far, a note, a status line, or the finished answer, as :class:`Planned`
messages.  Making the platform match is :mod:`adapters.render_calls`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.first_word import STILL_THINKING
from adapters.surface import SurfaceLimits
from adapters.text import Piece, Splitter, clip, closing_fence, last_break, open_fence

STATUS_MAX_CHARS = 120  # fits the room every message keeps free (SurfaceLimits.reserve)


class Markup(Protocol):
    """How a platform writes an answer: its limits and its markup (part of every Surface)."""

    limits: SurfaceLimits

    def format_text(self, markdown: str) -> str: ...

    def format_status(self, status: str) -> str: ...

    def format_note(self, note: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Planned:
    """What one message should show, the same without marker and status line, and where in the text it ends."""

    text: str
    bare: str
    upto: int


@dataclass(slots=True)
class Part:
    """One platform message of an answer and what it shows now."""

    id: str
    shown: str
    bare: str  # ... without the streaming marker and status line
    upto: int  # ... up to which character of the answer's text

    @classmethod
    def unknown(cls, message_id: str) -> Part:
        """A message whose text is not known (an answer cut off by a restart): rewritten whatever it shows."""
        return cls(message_id, "", "", 0)


@dataclass(frozen=True, slots=True)
class AnswerState:
    """What the layout depends on: the text so far and what is said beside it."""

    text: str
    note: str = ""
    status: str = ""
    still_thinking: bool = False


class Layout:
    """Cuts an answer into messages that fit the platform, as it streams and once finished."""

    def __init__(self, markup: Markup) -> None:
        self.markup = markup
        self.limits = markup.limits
        self.splitter = self._splitter()

    def _splitter(self) -> Splitter:
        return Splitter(
            self.limits.max_chars, reserve=self.limits.reserve, measure=lambda md: len(self.markup.format_text(md))
        )

    def messages(self, state: AnswerState, *, final: bool) -> list[Planned]:
        """Each message's text while streaming (marker, status) or once finished (with the note)."""
        pieces: list[Piece] = self.splitter.pieces(state.text)
        bare = [self.markup.format_text(p.opening + p.body) + p.closing for p in pieces]
        ends: list[int] = []
        end = 0
        for piece in pieces:
            end += len(piece.body)
            ends.append(end)
        if not final:
            rendered = list(bare)
            last = rendered[-1] if rendered else ""
            last = (last + self.limits.marker) if last else self.limits.placeholder
            if state.status:
                last += "\n" + self.markup.format_status(clip(state.status, STATUS_MAX_CHARS))
            elif state.still_thinking and not state.text:
                last += "\n" + self.markup.format_status(STILL_THINKING)
            rendered[-1:] = [last]
            return [Planned(*row) for row in zip(rendered, bare or [""], ends or [0], strict=True)]
        return [
            Planned(text, text, ends[i] if i < len(ends) else len(state.text))
            for i, text in enumerate(self._final_texts(bare, state.note))
        ]

    def _final_texts(self, bare: list[str], note_text: str) -> list[str]:
        rendered = list(bare)
        last = rendered[-1] if rendered else ""
        note = self._note(note_text)
        if not note and not last.strip():
            note = self.markup.format_note("(no answer)")
        if not note:
            rendered[-1:] = [last]
        elif not last.strip():
            rendered[-1:] = [note]
        elif len(last) + 2 + len(note) <= self.limits.max_chars:
            rendered[-1:] = [f"{last}\n\n{note}"]
        else:
            rendered[-1:] = [last, note]  # no room left: the note gets a message of its own
        return rendered

    def _note(self, note: str) -> str:
        return self.markup.format_note(clip(note, self.limits.max_chars // 2)) if note else ""

    def continuation(self, rest: str, note: str) -> list[str]:
        """``rest`` of an answer (and the note) as new messages of their own."""
        pieces = self._splitter().pieces(rest) if rest.strip() else []
        texts = [self.markup.format_text(p.opening + p.body) + p.closing for p in pieces]
        formatted = self._note(note)
        if formatted and texts and len(texts[-1]) + 2 + len(formatted) <= self.limits.max_chars:
            texts[-1] = f"{texts[-1]}\n\n{formatted}"
        elif formatted:
            texts.append(formatted)
        return texts

    def cut_short(self, text: str, parts: list[Part], first_stale: int, layout: list[Planned]) -> tuple[str, str, int]:
        """Where the answer goes on when message ``first_stale`` cannot be brought up to date.

        Returns what that message keeps (its final text, without marker; "" when it shows
        no answer text and is best deleted), the rest for new messages, and where in
        ``text`` the kept share ends.  The kept share stops at a word or a line.
        """
        start = layout[first_stale - 1].upto if first_stale else 0
        keep_upto = last_break(text, start, parts[first_stale].upto)
        keep = text[start:keep_upto]
        if not keep.strip():
            return "", open_fence(text[:start]) + text[start:], start
        kept = self.markup.format_text(open_fence(text[:start]) + keep) + closing_fence(text[:keep_upto])
        return kept, open_fence(text[:keep_upto]) + text[keep_upto:], keep_upto
