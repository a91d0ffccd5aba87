"""A terminal chat on the shared core: streamed answers, status lines, a few slash commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from adapters.terminal.messenger import TerminalMessenger, save_file
from core.chat import ChatService
from core.db.models import utcnow
from core.messenger import Outbox
from core.timefmt import stamp, zone
from core.types import (
    ConversationRef,
    IncomingMessage,
    OutgoingFile,
    PlatformIdentity,
    Refused,
    StatusUpdate,
    TextDelta,
    TurnDone,
    TurnError,
    TurnEvent,
)

log = logging.getLogger(__name__)

HELP = """Commands:
  /new        start a fresh conversation (the old one stays in the database)
  /history    show the last messages of this conversation (/history 50 for more)
  /forget     keep the last question and answer out of what the model sees
  /tz ZONE    set your time zone, e.g. /tz Europe/Paris
  /help       this list
  /quit       leave (Ctrl-D works too)"""

ReadLine = Callable[[], Awaitable[str | None]]


class TerminalChat:
    """Reads lines, sends them through ``ChatService.turn`` and prints the event stream."""

    def __init__(
        self,
        chat: ChatService,
        *,
        user: str,
        console: Console | None = None,
        files_dir: Path = Path("data/files"),
        read_line: ReadLine | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """``outbox`` gets a messenger that prints posts to this user while the chat runs."""
        self.chat = chat
        self.outbox = outbox
        self.console = console or Console(highlight=False)
        self.identity = PlatformIdentity("terminal", "local", user, display_name=user)
        self.place = ConversationRef("terminal", "local", user)
        self.files_dir = files_dir
        self._read_line = read_line or self._stdin_line
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
        """The read–answer loop, until /quit or end of input."""
        if self.outbox is not None:
            self.outbox.register(TerminalMessenger(self.console, user=self.identity.user_id, files_dir=self.files_dir))
        try:
            await self._loop()
        finally:
            if self.outbox is not None:
                self.outbox.unregister("terminal")

    async def _loop(self) -> None:
        for answer in await self.chat.recover_interrupted("terminal"):
            self.console.print(
                f"[yellow]Your last answer (#{answer.message_id}) was cut off when the assistant stopped; "
                "what it had written is kept in /history.[/]"
            )
        self.console.print("[bold]CaptainsLog[/] — type a message, or /help. Ctrl-D to leave.")
        while True:
            line = await self._read_line()
            if line is None:
                self.console.print()
                return
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                name, _, rest = text.partition(" ")
                command = self._commands.get(name.lower())
                if command is None:
                    self.console.print(f"Unknown command {escape(name)}; /help lists them.")
                    continue
                if not await command(rest.strip()):
                    return
                continue
            await self.say(text)

    async def say(self, text: str) -> None:
        """Send one message and print the answer as it streams."""
        incoming = IncomingMessage(conversation=self.place, author=self.identity, text=text, received_at=utcnow())
        self.console.print("[bold cyan]assistant ›[/] ", end="")
        at_line_start = False
        async with aclosing(self.chat.turn(incoming)) as events:
            async for event in events:
                at_line_start = self._show(event, at_line_start)

    def _show(self, event: TurnEvent, at_line_start: bool) -> bool:
        console = self.console
        if isinstance(event, TextDelta):
            # After a status line the cursor is already at a line start: don't add blank lines.
            text = event.text.lstrip("\n") if at_line_start else event.text
            if not text:
                return at_line_start
            console.print(text, end="", markup=False, soft_wrap=True)
            return text.endswith("\n")
        if isinstance(event, StatusUpdate):
            if event.text:
                console.print(("" if at_line_start else "\n") + f"[dim]… {escape(event.text)}[/]")
                return True
            return at_line_start
        if isinstance(event, OutgoingFile):
            path = self._save(event)
            console.print(("" if at_line_start else "\n") + f"[green]file saved:[/] {escape(str(path))}")
            return True
        if isinstance(event, TurnDone):
            console.print()
            return True
        if isinstance(event, TurnError):
            console.print(("" if at_line_start else "\n") + f"[red]⚠ {escape(event.message)}[/]")
            return True
        if isinstance(event, Refused):
            console.print(f"[red]{escape(event.message)}[/]")
            return True
        return at_line_start

    def _save(self, file: OutgoingFile) -> Path:
        return save_file(self.files_dir, file)

    # -- commands (return False to leave) ----------------------------------------------

    async def _new(self, _rest: str) -> bool:
        await self.chat.new_conversation(self.place)
        self.console.print("Started a new conversation.")
        return True

    async def _history(self, rest: str) -> bool:
        limit = int(rest) if rest.isdigit() else 20
        messages = await self.chat.history(self.place, limit=limit)
        if not messages:
            self.console.print("No messages yet in this conversation.")
            return True
        tz = zone(await self.chat.user_timezone(self.identity))
        for message in messages:
            who = "you" if message.role == "user" else "assistant"
            marks = []
            if message.deleted_at:
                marks.append("deleted")
            if message.edited_at:
                marks.append("edited")
            if message.forgotten_at:
                marks.append("forgotten")
            if message.status not in ("complete",):
                marks.append(message.status)
            suffix = f" [dim]({', '.join(marks)})[/]" if marks else ""
            self.console.print(
                f"[dim]{stamp(message.created_at, tz)}[/] [bold]{who}[/]{suffix}: {escape(message.content)}"
            )
        return True

    async def _forget(self, _rest: str) -> bool:
        done = await self.chat.forget_last_exchange(self.place)
        self.console.print("Forgot the last exchange." if done else "There is nothing to forget yet.")
        return True

    async def _timezone(self, rest: str) -> bool:
        if not rest:
            self.console.print(f"Your time zone is {await self.chat.user_timezone(self.identity)}.")
        else:
            self.console.print(await self.chat.set_timezone(self.identity, rest))
        return True

    async def _help(self, _rest: str) -> bool:
        self.console.print(HELP, markup=False)
        return True

    async def _quit(self, _rest: str) -> bool:
        return False

    async def _stdin_line(self) -> str | None:
        self.console.print("[bold green]you ›[/] ", end="")
        try:
            return await asyncio.to_thread(input)
        except EOFError:
            return None
