"""Where the terminal chat's messages come from.

:class:`PromptLines` is the interactive line editor (prompt_toolkit): editing,
history, bracketed paste, Alt+Enter for a new line. :class:`PipedLines` reads a
pipe, a file or a script: one message per line, until the end of the input.
Both answer :meth:`answering`, the guard held while an answer streams.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.input.typeahead import store_typeahead
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.key_processor import KeyPress
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout
from rich.console import Console

from adapters.terminal.safe_text import printable

PROMPT = "you › "
Interrupt = Callable[[], None]


class LineSource(Protocol):
    """Gives the chat one message at a time."""

    interactive: bool

    async def read(self) -> str | None:
        """The next message, or None when the user leaves (end of input, Ctrl-D, Ctrl-C at the prompt)."""
        ...

    def answering(self, interrupt: Interrupt) -> AbstractContextManager[None]:
        """Held while an answer streams: calls ``interrupt`` on Ctrl-C; keeps typing out of the answer."""
        ...


def is_interactive() -> bool:
    """Whether both ends are a terminal (a pipe, a file or a captured output get plain lines)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("escape", "enter")  # Alt+Enter sends ESC then Enter, like Esc+Enter
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


class PromptLines:
    """The line editor. Enter sends; Esc+Enter or Alt+Enter starts a new line; a paste is one message."""

    interactive = True

    def __init__(self, session: PromptSession[str]) -> None:
        self.session = session

    @classmethod
    def create(
        cls, *, input: Input | None = None, output: Output | None = None, history: History | None = None
    ) -> PromptLines:
        """A session on the real terminal, or on ``input``/``output`` (tests use a pipe input and DummyOutput)."""
        session: PromptSession[str] = PromptSession(
            history=history or InMemoryHistory(),
            key_bindings=_key_bindings(),
            input=input,
            output=output,
            enable_open_in_editor=False,
        )
        return cls(session)

    async def read(self) -> str | None:
        """Prompt once; other output (a reminder, a posted log) is printed above the prompt meanwhile."""
        try:
            with patch_stdout(raw=True):
                return await self.session.prompt_async([("bold ansigreen", PROMPT)])
        except (EOFError, KeyboardInterrupt):
            return None

    @contextmanager
    def answering(self, interrupt: Interrupt) -> Iterator[None]:
        """Read the keyboard in raw mode while an answer streams: nothing typed echoes into it,
        Ctrl-C stops the answer, and the rest waits for the next prompt as typeahead."""
        source = self.session.input
        kept: list[KeyPress] = []

        def keys_ready() -> None:
            for press in source.read_keys():
                if press.key == Keys.ControlC:
                    interrupt()
                else:
                    kept.append(press)

        with source.raw_mode(), source.attach(keys_ready):
            try:
                yield
            finally:
                kept.extend(source.flush_keys())
                if kept:
                    store_typeahead(source, kept)


class PipedLines:
    """One message per line of a file descriptor (stdin by default), decoded leniently.

    A daemon thread reads the descriptor with ``os.read``: leaving never waits for
    a line that is not coming (``asyncio.to_thread(input)`` held the exit until
    Enter), and no lock of ``sys.stdin`` is held at exit (which aborts Python).
    """

    interactive = False

    def __init__(self, console: Console, fd: int | None = None, *, prompt: bool = True) -> None:
        """``prompt``: print "you ›" before each line (off when the output is a file or a pipe)."""
        self.console = console
        self.fd = fd
        self.prompt = prompt
        self._queue: asyncio.Queue[str | None] | None = None

    def _start(self) -> asyncio.Queue[str | None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        fd = sys.stdin.fileno() if self.fd is None else self.fd

        def put(line: str | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            except RuntimeError:
                pass  # the loop is gone: nobody is waiting

        def pump() -> None:
            pending = b""
            try:
                while chunk := os.read(fd, 65536):
                    *lines, pending = (pending + chunk).split(b"\n")
                    for raw in lines:
                        put(_decoded(raw))
            except OSError:
                pass  # stdin closed under us: the same as its end
            if pending:
                put(_decoded(pending))
            put(None)

        threading.Thread(target=pump, name="terminal-stdin", daemon=True).start()
        return queue

    async def read(self) -> str | None:
        """The next line; at the end of the input, None (after ending the prompt's line)."""
        if self._queue is None:
            self._queue = self._start()
        if self.prompt:
            self.console.print(f"[bold green]{PROMPT.rstrip()}[/] ", end="")
        try:
            line = await self._queue.get()
        except asyncio.CancelledError:  # Ctrl-C while waiting: the shell's prompt goes on a line of its own
            if self.prompt:
                self.console.print()
            raise
        if self.prompt:
            # The typed line: a transcript of piped input shows what was said, not only the answers.
            self.console.print("" if line is None else printable(line), markup=False, highlight=False, soft_wrap=True)
        return line

    def answering(self, interrupt: Interrupt) -> AbstractContextManager[None]:
        """Nothing to guard: Ctrl-C arrives as SIGINT, and typing goes to the pipe, not the answer."""
        return nullcontext()


def _decoded(raw: bytes) -> str:
    # Invalid UTF-8 becomes U+FFFD here rather than a crash (or a lone surrogate) later.
    return raw.removesuffix(b"\r").decode("utf-8", errors="replace")


class CallableLines:
    """Lines from a coroutine function (the older ``read_line`` hook of :class:`TerminalChat`)."""

    interactive = False

    def __init__(self, read_line: Callable[[], Awaitable[str | None]]) -> None:
        self.read_line = read_line

    async def read(self) -> str | None:
        """Whatever the function returns."""
        return await self.read_line()

    def answering(self, interrupt: Interrupt) -> AbstractContextManager[None]:
        """Nothing to guard."""
        return nullcontext()
