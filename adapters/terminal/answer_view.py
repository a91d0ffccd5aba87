"""One answer on the terminal: a spinner until text arrives, the streamed text, status, files, errors.

On a terminal (``live``) the wait and the core's status lines ("searching
memory…") show as a transient spinner that disappears when text arrives; in a
pipe or a file they are plain lines, so a transcript reads top to bottom.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from adapters.terminal.messenger import save_file
from adapters.terminal.safe_text import printable
from core.types import ButtonsOffered, OutgoingFile, Refused, StatusUpdate, TextDelta, TurnDone, TurnError, TurnEvent

log = logging.getLogger(__name__)

LABEL = "[bold cyan]assistant ›[/] "
THINKING = "thinking…"


def unexpected(exc: BaseException) -> str:
    """The one line shown for an error nobody planned for (the traceback goes to the log)."""
    return f"⚠ Something went wrong with that ({type(exc).__name__}); the details are in the log."


class AnswerView:
    """Prints the events of one turn; build one per answer."""

    def __init__(
        self, console: Console, *, files_dir: Path, live: bool, labels: bool = True, notes: Console | None = None
    ) -> None:
        """``labels``: "assistant ›" before an answer (off when the output is a file or a pipe).
        ``notes``: where status lines go when not live (default: ``console``); a chat writing only
        its answers to a file sends them to stderr, so ``captainslog chat > answers.txt`` holds the answers."""
        self.console = console
        self.notes = notes or console
        self.files_dir = files_dir
        self.live = live
        self.labels = labels
        self.at_line_start = True
        self.labelled = False
        self._spinner: Status | None = None

    def begin(self) -> None:
        """Before the first event: the label (plain) or a spinner saying the assistant is thinking (live)."""
        if self.live:
            self._spin(THINKING)
        else:
            self._label()

    def show(self, event: TurnEvent) -> None:
        """Print one event of the stream."""
        if isinstance(event, TextDelta):
            self._text(event.text)
        elif isinstance(event, StatusUpdate):
            self._status(event.text)
        elif isinstance(event, OutgoingFile):
            self._file(event)
        elif isinstance(event, ButtonsOffered):  # no buttons here: the command each one runs, to type
            self._text("\n" + " · ".join(f"{b.label}: {b.typed}" for b in event.buttons))
        elif isinstance(event, TurnDone):
            self._stop_spinner()
            self.console.print()
            self.at_line_start = True
        elif isinstance(event, TurnError):
            self._line(f"[red]⚠ {escape(printable(event.message))}[/]")
        elif isinstance(event, Refused):
            self._stop_spinner()
            self.console.print(f"[red]{escape(printable(event.message))}[/]")
            self.at_line_start = True

    def stopped(self) -> None:
        """The user pressed Ctrl-C during the answer."""
        self._line("[yellow]⏹ Stopped. What was written so far is kept (partial) in /history.[/]")

    def failed(self, exc: BaseException) -> None:
        """An unexpected error ended the turn: one line here, the details in the log (by the caller)."""
        self._line(f"[red]{escape(unexpected(exc))}[/]")

    def close(self) -> None:
        """Remove the spinner if it still runs (always called, also when the turn was cancelled)."""
        self._stop_spinner()

    # -- pieces --------------------------------------------------------------------------

    def _text(self, text: str) -> None:
        self._stop_spinner()
        if not self.labelled:
            self._label()
        # After a status line the cursor is already at a line start: don't add blank lines.
        text = printable(text.lstrip("\n") if self.at_line_start else text)
        if not text:
            return
        self.console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        self.at_line_start = text.endswith("\n")

    def _status(self, text: str) -> None:
        if self.live:
            if not self.at_line_start:
                self.console.print()
                self.at_line_start = True
            if text:
                self._spin(text)
            else:
                self._stop_spinner()
        elif text and self.notes is not self.console:
            self.notes.print(f"[dim]… {escape(printable(text, newlines=False))}[/]")
        elif text:
            self._line(f"[dim]… {escape(printable(text, newlines=False))}[/]")

    def _file(self, file: OutgoingFile) -> None:
        try:
            path = save_file(self.files_dir, file)
        except (OSError, ValueError) as exc:
            log.warning("could not save %r in %s: %s", file.filename, self.files_dir, exc)
            self._line(f"[red]⚠ The file could not be saved in {escape(str(self.files_dir))}: {escape(str(exc))}[/]")
            return
        self._line(f"[green]file saved:[/] {escape(printable(str(path), newlines=False))}")

    def _line(self, markup: str) -> None:
        """A line of its own, after whatever was streamed."""
        self._stop_spinner()
        self.console.print(("" if self.at_line_start else "\n") + markup)
        self.at_line_start = True

    def _label(self) -> None:
        if self.labels:
            self.console.print(LABEL, end="")
            self.at_line_start = False
        self.labelled = True

    def _spin(self, text: str) -> None:
        shown = escape(printable(text, newlines=False))
        if self._spinner is None:
            self._spinner = self.console.status(f"[dim]{shown}[/]", spinner="dots")
            self._spinner.start()
        else:
            self._spinner.update(f"[dim]{shown}[/]")

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
