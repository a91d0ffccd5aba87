"""``/export-data``: everything stored about the caller, as one zip in their DM (or here, in the terminal)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date

from core.clock import Clock
from core.commands import Command, CommandReply, CommandRequest
from core.daily.document import PdfCache
from core.data_export.archive import write_archive
from core.data_export.collect import collect
from core.db.database import Database
from core.messenger import DeliveryError, Outbox
from core.types import OutgoingFile, PlatformIdentity

log = logging.getLogger(__name__)

UserOf = Callable[[PlatformIdentity], Awaitable[int | None]]


async def export_person(db: Database, user_id: int, *, clock: Clock, pdfs: PdfCache | None) -> bytes | None:
    """The zip of everything stored about ``user_id``; None when there is no such person."""
    export = await collect(db, user_id)
    if export is None:
        return None

    def load_pdf(day: date) -> bytes | None:
        return pdfs.load(user_id, day) if pdfs is not None else None

    return write_archive(export, now=clock(), load_pdf=load_pdf)


def export_data_command(
    db: Database, *, user_of: UserOf, outbox: Outbox, clock: Clock, pdfs: PdfCache | None
) -> Command:
    """The ``/export-data`` command."""

    async def export_data(request: CommandRequest) -> CommandReply:
        user_id = await user_of(request.identity)
        if user_id is None:
            return CommandReply("Sign in first: there is nothing stored about this account yet.", private=True)
        data = await export_person(db, user_id, clock=clock, pdfs=pdfs)
        if data is None:
            return CommandReply("There is nothing stored about you.", private=True)
        name = f"captainslog-export-{clock():%Y-%m-%d}.zip"
        archive = OutgoingFile(name, "application/zip", data, description="Everything CaptainsLog stores about you")
        size = f"{len(data) / 1024:.0f} KB" if len(data) < 1024 * 1024 else f"{len(data) / 1024 / 1024:.1f} MB"
        if not request.answers_here and outbox.messenger(request.identity.platform) is not None:
            try:
                await outbox.send_to_account(request.identity, f"{name}: everything I store about you.", (archive,))
                return CommandReply(f"Sent {name} ({size}) to your DM.", private=True)
            except DeliveryError as exc:
                log.warning("/export-data DM for user %s failed: %s", user_id, exc.reason)
        return CommandReply(f"Here is {name} ({size}): everything I store about you.", files=(archive,), private=True)

    return Command("export-data", "Everything I store about you, as one zip file", export_data, slow=True)
