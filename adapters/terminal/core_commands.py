"""The core's shared commands (/summary, /export, /memory, /settings …) typed at the terminal.

Discord and Slack run the same :class:`core.commands.CommandSet`; here a typed
line becomes its options the way Slack reads one (``/settings daily-time 22:30``,
``/forget-me confirm:DELETE``). The request says the reply is shown right here
to the one person at the terminal, so /export answers with the PDF (saved under
the files folder) instead of posting it to a DM, and progress lines ("writing
the summary…") show like an answer's status lines.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from adapters.terminal.answer_view import AnswerView
from adapters.terminal.safe_text import printable, with_bold
from core.commands import CommandReply, CommandRequest, CommandSet, options_from_line
from core.types import ConversationRef, PlatformIdentity, StatusUpdate


class CoreCommands:
    """Runs one core command for the terminal user and prints its reply; its files are saved."""

    def __init__(
        self,
        commands: CommandSet,
        *,
        console: Console,
        files_dir: Path,
        identity: PlatformIdentity,
        place: ConversationRef,
    ) -> None:
        self.commands = commands
        self.console = console
        self.files_dir = files_dir
        self.identity = identity
        self.place = place

    def knows(self, name: str) -> bool:
        """Whether ``name`` (without the slash) is one of the core's commands."""
        return name in self.commands.commands

    def help_lines(self, shadowed: set[str]) -> list[str]:
        """One line per core command the terminal does not answer itself (``shadowed``, without slashes)."""
        return [
            f"  {'/' + command.name:<11} {command.description}"
            for command in self.commands.commands.values()
            if command.name not in shadowed
        ]

    async def run(self, name: str, text: str, *, live: bool) -> None:
        """Run ``/name text``; ``live`` shows the wait as a spinner, otherwise progress is plain lines."""
        command = self.commands.commands[name]
        view = AnswerView(self.console, files_dir=self.files_dir, live=live)

        async def progress(line: str) -> None:
            view.show(StatusUpdate(line))

        if live and command.slow:
            view.show(StatusUpdate(f"working on /{name}…"))
        request = CommandRequest(
            self.identity,
            self.place,
            options_from_line(command, text),
            answers_here=True,
            progress=progress,
        )
        try:
            reply = await self.commands.run(name, request)
        finally:
            view.close()
        self.show(reply, view)

    def show(self, reply: CommandReply, view: AnswerView) -> None:
        """The reply's text (its ``**headings**`` in bold), then each file saved, one line each."""
        if reply.text:
            self.console.print(with_bold(printable(reply.text)), highlight=False, soft_wrap=True)
        for file in reply.files:
            view.show(file)
