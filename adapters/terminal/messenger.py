"""The terminal's way out: a post to the terminal user is printed, its files saved under the files folder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from adapters.terminal.safe_text import printable, with_bold
from core.messenger import Delivery, DeliveryError
from core.outbound import OutboundPart
from core.types import ConversationRef, OutgoingFile, PlatformIdentity

PLATFORM = "terminal"
WORKSPACE = "local"


def safe_filename(name: str, fallback: str = "file") -> str:
    """``name`` reduced to a plain file name (no folders, no leading dots), so a file lands where it should."""
    base = Path(name.replace("\\", "/")).name.lstrip(".").strip()
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')[:120]
    return cleaned or fallback


def save_file(folder: Path, file: OutgoingFile) -> Path:
    """Write ``file`` into ``folder`` under a safe name that does not overwrite an earlier file."""
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_filename(file.filename)
    path = folder / name
    stem, suffix = path.stem, path.suffix
    counter = 1
    while True:
        if path.parent != folder or path.name != name:  # checked, not trusted: a plain name right in ``folder``
            raise ValueError(f"unsafe file name {file.filename!r}")
        try:
            # "x": never overwrite, not even a name taken since the check, and never follow a planted symlink.
            with path.open("xb") as out:
                out.write(file.data)
            return path
        except FileExistsError:
            counter += 1
            name = f"{stem}-{counter}{suffix}"
            path = folder / name


class TerminalMessenger:
    """Implements :class:`core.messenger.Messenger` for the one person at the terminal."""

    platform = PLATFORM

    def __init__(self, console: Console, *, user: str, files_dir: Path, labels: bool = True) -> None:
        self.console = console
        self.labels = labels
        self.user = user
        self.files_dir = files_dir
        self.place = ConversationRef(PLATFORM, WORKSPACE, user)

    async def send_to_account(
        self, account: PlatformIdentity, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Print the post when ``account`` is the terminal user."""
        if account.platform != PLATFORM or account.user_id != self.user:
            raise DeliveryError(f"{account.key} is not the terminal user")
        return self._show(text, files)

    async def send_to_conversation(
        self, place: ConversationRef, text: str, files: Sequence[OutgoingFile] = ()
    ) -> Delivery:
        """Print the post when ``place`` is the terminal's conversation."""
        if place.platform != PLATFORM or place.channel != self.user:
            raise DeliveryError(f"{place.platform}:{place.channel} is not the terminal's conversation")
        return self._show(text, files)

    async def send_part(
        self, account: PlatformIdentity, part: OutboundPart, *, earlier_try: datetime | None = None
    ) -> Delivery:
        """Print one part of a scheduled post. A terminal keeps no history to read back: a part an
        earlier (ended) session may have printed is printed again in this one, where it was not seen."""
        if account.platform != PLATFORM or account.user_id != self.user:
            raise DeliveryError(f"{account.key} is not the terminal user")
        text = part.text
        if part.buttons:  # no buttons here: the command each one runs, to type
            text += "\n" + " · ".join(f"{b.label}: {b.typed}" for b in part.buttons)
        return self._show(text, (part.file,) if part.file is not None else ())

    def _show(self, text: str, files: Sequence[OutgoingFile]) -> Delivery:
        if text:
            label = "\nassistant › " if self.labels else "\n"
            line = Text(label, style="bold cyan").append_text(with_bold(printable(text)))
            self.console.print(line, highlight=False, soft_wrap=True)
        for file in files:
            path = save_file(self.files_dir, file)
            self.console.print(f"[green]file saved:[/] {escape(printable(str(path), newlines=False))}")
        return Delivery(PLATFORM, self.place, ())
