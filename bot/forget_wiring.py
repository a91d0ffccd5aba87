"""What ``/forget-me`` deletes besides the database rows: Google's grant, cached day PDFs, saved files.

The rows go in one transaction (core/memory/forget.py); these run around it.
Google's grant is revoked first, while the stored refresh token still exists;
each platform account's folder of saved files is found while the accounts
still exist and removed with the day PDFs once the rows are gone.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.daily.document import PdfCache
from core.google.connection import GoogleConnections
from core.memory.commands import MemoryCommands
from core.types import PlatformIdentity

log = logging.getLogger(__name__)

AccountsOf = Callable[[int], Awaitable[list[PlatformIdentity]]]


def terminal_files_dir(data_dir: Path, terminal_user: str) -> Path:
    """Where the terminal saves the files of one terminal user (images, speech): their own folder."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", terminal_user).strip(".") or "user"
    return data_dir / "files" / name


def add_forget_me_cleanup(
    commands: MemoryCommands,
    *,
    data_dir: Path,
    accounts_of: AccountsOf,
    google: GoogleConnections | None = None,
    pdfs: PdfCache | None = None,
) -> None:
    """Make ``/forget-me`` also revoke the Google grant and remove the person's files in ``data_dir``."""
    folders: dict[int, list[Path]] = {}

    async def before(user_id: int) -> None:
        if google is not None and await google.disconnect(user_id):
            log.info("forget-me: Google access of user %s revoked", user_id)
        accounts = await accounts_of(user_id)
        folders[user_id] = [terminal_files_dir(data_dir, a.user_id) for a in accounts if a.platform == "terminal"]

    async def after(user_id: int) -> None:
        if pdfs is not None:
            await asyncio.to_thread(pdfs.forget_user, user_id)
        for folder in folders.pop(user_id, []):
            await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)

    commands.before_forget.append(before)
    commands.after_forget.append(after)
