"""A terminal chat on the shared core: streamed answers, status lines, its own slash commands and the core's."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from adapters.terminal.answer_view import AnswerView, unexpected
from adapters.terminal.companions import Companion, Companions
from adapters.terminal.core_commands import CoreCommands
from adapters.terminal.history_view import CountError, history_count, history_line
from adapters.terminal.lines import CallableLines, LineSource, PipedLines, PromptLines, is_interactive
from adapters.terminal.messenger import TerminalMessenger
from adapters.terminal.safe_text import printable
from core.chat import ChatService
from core.chat.user_ops import timezone_text
from core.commands import CommandSet
from core.db.models import utcnow
from core.messenger import Outbox
from core.tasks import BackgroundTasks
from core.timefmt import zone
from core.types import ConversationRef, IncomingMessage, PlatformIdentity

log = logging.getLogger(__name__)

HELP = """Commands:
  /new        start a fresh conversation (the old one stays in the database)
  /history    show the last messages of this conversation (/history 50 for more, up to 200)
  /forget     keep the last question and answer out of what the model sees
  /tz ZONE    set your time zone, e.g. /tz Europe/Paris (/tz alone shows it)
  /help       this list
  /quit       leave (Ctrl-D works too)"""
CORE_HELP = "The assistant's commands, as on Discord and Slack:"

KEYS = """Keys: Enter sends; Esc+Enter or Alt+Enter starts a new line (a pasted text is one message).
  Up/Down recall earlier messages; Ctrl-C stops an answer, and at the prompt leaves."""

ReadLine = Callable[[], Awaitable[str | None]]
NOTICE_AFTER = 0.5  # seconds of after-answer work at leaving before the chat says it is finishing up
FINISHING = "[dim]finishing up… (Ctrl-C to skip)[/]"


class TerminalChat:
    """Reads messages, sends them through ``ChatService.turn`` and prints the event stream."""

    def __init__(
        self,
        chat: ChatService,
        *,
        user: str,
        console: Console | None = None,
        files_dir: Path = Path("data/files"),
        read_line: ReadLine | None = None,
        outbox: Outbox | None = None,
        lines: LineSource | None = None,
        commands: CommandSet | None = None,
        services: Sequence[Companion] = (),
        tasks: BackgroundTasks | None = None,
        transcript: bool | None = None,
        notice: str = "",
    ) -> None:
        """``lines`` defaults to the line editor on a terminal and to plain lines from a pipe or file;
        ``read_line`` (a coroutine function) is the older way to feed lines.
        ``outbox`` gets a messenger that prints posts to this user while the chat runs.
        ``commands`` (the core's, as on Discord and Slack) answer the slash commands the chat has not
        its own. ``services`` run while the chat is open, once it can print posts (the daily log).
        ``tasks``, the process's background work, is drained on leaving, with a line when it takes a while.
        ``transcript`` prints the banner, "you ›" prompts and "assistant ›" labels; by default only when the
        output is a terminal (``echo hi | captainslog chat > answer.txt`` writes just the answer).
        ``notice``: a line printed under the banner (the web app's address)."""
        self.chat = chat
        self.notice = notice
        self.outbox = outbox
        self.companions = Companions(services)
        self.tasks = tasks
        self.console = console or Console(highlight=False)
        self.identity = PlatformIdentity("terminal", "local", user, display_name=user)
        self.place = ConversationRef("terminal", "local", user)
        self.files_dir = files_dir
        self.core = (
            CoreCommands(commands, console=self.console, files_dir=files_dir, identity=self.identity, place=self.place)
            if commands is not None
            else None
        )
        if lines is None and read_line is not None:
            lines = CallableLines(read_line)
        on_screen = self.console.is_terminal if transcript is None else transcript
        if lines is None:
            lines = PromptLines.create() if is_interactive() else PipedLines(self.console, prompt=on_screen)
        self.lines: LineSource = lines
        # A line editor is a person at a keyboard: they see the prompts and labels whatever the console is.
        self.transcript = on_screen or (transcript is None and lines.interactive)
        if not self.console.is_terminal:
            self.console.soft_wrap = True  # a file or a pipe gets each answer's lines as written, not cut at 80
        # Answers only on stdout when it is a file or a pipe: what is happening goes to stderr.
        piped = console is None and not self.transcript
        self.notes = Console(stderr=True, highlight=False, soft_wrap=True) if piped else self.console
        self._waiting: asyncio.Task[Any] | None = None  # the prompt or the answer, whichever Ctrl-C stops
        self._commands: dict[str, Callable[[str], Awaitable[bool]]] = {
            "/new": self._new,
            "/history": self._history,
            "/forget": self._forget,
            "/tz": self._timezone,
            "/help": self._help,
            "/quit": self._quit,
            "/exit": self._quit,
        }

    async def run(self) -> None:
        """The read–answer loop, until /quit, Ctrl-D, Ctrl-C at the prompt or the end of the input."""
        if self.outbox is not None:
            self.outbox.register(
                TerminalMessenger(
                    self.console, user=self.identity.user_id, files_dir=self.files_dir, labels=self.transcript
                )
            )
        restore = self._catch_sigint()
        try:
            await self._loop()
            await self.companions.stop()
            await self._finish()
        finally:
            await self.companions.stop()  # when the chat ended with an error or was cancelled
            restore()
            if self.outbox is not None:
                self.outbox.unregister("terminal")

    def interrupt(self) -> None:
        """Ctrl-C: stop the answer being written (kept as partial), or leave when waiting at the prompt."""
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()

    async def _loop(self) -> None:
        await self._guarded(self._recover())
        if self.transcript:
            self.console.print("[bold]CaptainsLog[/] — type a message, or /help. Ctrl-D to leave.")
            if self.notice:
                self.console.print(self.notice, markup=False, highlight=False)
        await self.companions.start()
        while True:
            line = await self._stoppable(self.lines.read())
            if line is None:
                return
            text = line.strip()
            if not text:
                continue
            if text.startswith("/") and "\n" not in text:
                name, _, rest = text.partition(" ")
                command = self._commands.get(name.lower())
                if command is None and self.core is not None and self.core.knows(name[1:].lower()):
                    await self._run_core(name[1:].lower(), rest)
                    continue
                if command is None:
                    self.console.print(f"Unknown command {escape(printable(name, newlines=False))}; /help lists them.")
                    continue
                if not await self._guarded(command(rest.strip()), default=True):
                    return
                continue
            await self.say(text)

    async def say(self, text: str) -> None:
        """Send one message and print the answer as it streams; Ctrl-C stops it, an error is one line."""
        incoming = IncomingMessage(conversation=self.place, author=self.identity, text=text, received_at=utcnow())
        view = AnswerView(
            self.console,
            files_dir=self.files_dir,
            live=self.lines.interactive,
            labels=self.transcript,
            notes=self.notes,
        )
        view.begin()
        try:
            with self.lines.answering(self.interrupt):
                if await self._stoppable(self._stream(incoming, view), stopped=False):
                    return
            view.stopped()
        except Exception as exc:  # noqa: BLE001 - one line on screen instead of a traceback; the chat goes on
            log.warning("terminal turn failed", exc_info=True)  # WARNING: the log file, not the screen
            view.failed(exc)
        finally:
            view.close()

    async def _run_core(self, name: str, rest: str) -> None:
        """One of the core's commands (``name`` without the slash); Ctrl-C stops it like an answer."""
        assert self.core is not None
        try:
            with self.lines.answering(self.interrupt):
                done = await self._stoppable(self._core_command(name, rest), stopped=False)
            if not done:
                self.console.print(f"[yellow]⏹ Stopped /{escape(name)}.[/]")
        except Exception as exc:  # noqa: BLE001 - the chat must survive a failing command
            log.warning("terminal command /%s failed", name, exc_info=True)  # WARNING: the log file, not the screen
            self.console.print(f"[red]{escape(unexpected(exc))}[/]")

    async def _core_command(self, name: str, rest: str) -> bool:
        assert self.core is not None
        await self.core.run(name, rest, live=self.lines.interactive)
        return True

    async def _stream(self, incoming: IncomingMessage, view: AnswerView) -> bool:
        # Closing the stream (also when this task is cancelled) makes the core store what was said as partial.
        async with aclosing(self.chat.turn(incoming)) as events:
            async for event in events:
                view.show(event)
        return True

    async def _stoppable(self, work: Awaitable[Any], *, stopped: Any = None) -> Any:
        """Run ``work`` so that :meth:`interrupt` can cancel it; a cancelled ``work`` gives ``stopped``."""
        task = asyncio.ensure_future(work)
        self._waiting = task
        try:
            return await task
        except asyncio.CancelledError:
            if not task.cancelled() or asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise  # it is this chat that is being cancelled, not just the answer or the prompt
            return stopped
        finally:
            self._waiting = None

    async def _guarded(self, work: Awaitable[Any], default: Any = None) -> Any:
        """Await ``work``; an unexpected error is one line on screen and the details in the log."""
        try:
            return await work
        except Exception as exc:  # noqa: BLE001 - the chat must survive a failing command
            log.warning("terminal command failed", exc_info=True)  # WARNING: the log file, not the screen
            self.console.print(f"[red]{escape(unexpected(exc))}[/]")
            return default

    def _catch_sigint(self) -> Callable[[], None]:
        """Route SIGINT (Ctrl-C outside the line editor's raw mode) to :meth:`interrupt`; returns the undo."""
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGINT)
        try:
            loop.add_signal_handler(signal.SIGINT, self.interrupt)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            return lambda: None

        def restore() -> None:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, previous)

        return restore

    async def _finish(self) -> None:
        """Wait for the after-answer work (memory, index) before leaving; Ctrl-C skips the wait."""
        if self.tasks is None:
            return
        shown = False

        async def drain(tasks: BackgroundTasks) -> bool:
            nonlocal shown
            draining = asyncio.ensure_future(tasks.drain())
            try:
                done, _ = await asyncio.wait({draining}, timeout=NOTICE_AFTER)
                if not done and self.transcript:  # a notice for a person watching, not for a file of answers
                    self.console.print(FINISHING)
                    shown = True
                    await draining
            except asyncio.CancelledError:
                draining.cancel()  # drain cancels what is left, and logs how much
                await asyncio.wait({draining})
                raise
            return True

        with self.lines.answering(self.interrupt):
            finished = await self._stoppable(drain(self.tasks), stopped=False)
        if not finished and shown:
            self.console.print("[dim]skipped.[/]")

    async def _recover(self) -> None:
        for answer in await self.chat.recover_interrupted("terminal"):
            self.console.print(
                f"[yellow]Your last answer (#{answer.message_id}) was cut off when the assistant stopped; "
                "what it had written is kept in /history.[/]"
            )

    # -- commands (return False to leave) ----------------------------------------------

    async def _new(self, _rest: str) -> bool:
        await self.chat.new_conversation(self.place)
        self.console.print("Started a new conversation.")
        return True

    async def _history(self, rest: str) -> bool:
        try:
            limit = history_count(rest)
        except CountError as exc:
            self.console.print(escape(str(exc)))
            return True
        messages = await self.chat.history(self.place, limit=limit)
        if not messages:
            self.console.print("No messages yet in this conversation.")
            return True
        tz = zone(await self.chat.user_timezone(self.identity))
        for message in messages:
            self.console.print(history_line(message, tz))
        return True

    async def _forget(self, _rest: str) -> bool:
        done = await self.chat.forget_last_exchange(self.place)
        self.console.print("Forgot the last exchange." if done else "There is nothing to forget yet.")
        return True

    async def _timezone(self, rest: str) -> bool:
        if not rest:
            self.console.print(f"Your time zone is {escape(await self.chat.user_timezone(self.identity))}.")
        elif self.core is not None and self.core.knows("settings"):
            await self.core.run("settings", f"timezone {rest}", live=False)  # checked and saved as /settings does
        else:
            answer = timezone_text(await self.chat.set_timezone(self.identity, rest))
            self.console.print(escape(printable(answer)))
        return True

    async def _help(self, _rest: str) -> bool:
        self.console.print(HELP, markup=False)
        if self.core is not None:
            own = {name.removeprefix("/") for name in self._commands}
            self.console.print("\n".join([CORE_HELP, *self.core.help_lines(own)]), markup=False, highlight=False)
        if self.lines.interactive:
            self.console.print(KEYS, markup=False)
        return True

    async def _quit(self, _rest: str) -> bool:
        return False
