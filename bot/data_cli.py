"""``captainslog export-data PERSON [--out FILE]``: everything stored about a person, as one zip."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.config import Settings
from bot.errors import ConfigError
from core.clock import system_clock
from core.daily.document import PdfCache
from core.data_export.command import export_person
from core.db.database import Database
from core.db.models import Identity, User

WHO = (
    "Name the person by email (ada@example.org), by account (discord:global:123…, slack:T…:U…, "
    "terminal:local:NAME) or by their terminal name."
)


async def find_person(db: Database, who: str) -> int | None:
    """The user id named by an email, a full account key, or a terminal user name."""
    who = who.strip()
    async with db.session() as session:
        if "@" in who and ":" not in who:
            return await session.scalar(select(User.id).where(func.lower(User.email) == who.lower()))
        parts = who.split(":")
        if len(parts) == 3:
            platform, workspace, account = parts
        elif len(parts) == 1:
            platform, workspace, account = "terminal", "local", who
        else:
            return None
        return await session.scalar(
            select(Identity.user_id).where(
                Identity.platform == platform,
                Identity.workspace == workspace,
                Identity.platform_user_id == account,
            )
        )


async def run_export_data(settings: Settings, who: str, out: Path | None) -> str:
    """Write the person's archive; the sentence to print."""
    db = Database(settings.database_url)
    try:
        user_id = await find_person(db, who)
        if user_id is None:
            raise ConfigError(f"No one called {who!r} is stored here. {WHO}")
        data = await export_person(db, user_id, clock=system_clock, pdfs=PdfCache(settings.data_dir / "daily"))
    finally:
        await db.dispose()
    if data is None:
        raise ConfigError(f"No one called {who!r} is stored here. {WHO}")
    slug = re.sub(r"[^\w.-]+", "-", who).strip("-") or "person"
    path = out or Path.cwd() / f"captainslog-export-{slug}-{datetime.now():%Y%m%d}.zip"
    if path.exists():
        raise ConfigError(f"{path} exists already; name a new file with --out.")
    path.write_bytes(data)
    return f"Wrote {path} ({len(data) / 1024:.0f} KB): everything stored about {who}."


async def run_import_chatgpt(settings: Settings, who: str, source: Path) -> str:
    """Import a ChatGPT data export for the person; the lines to print (a line per item skipped, then the total)."""
    from core.data_import.chatgpt import ImportRefused, import_conversations, read_export

    try:
        data = await asyncio.to_thread(source.read_bytes)
    except OSError as exc:
        raise ConfigError(f"{source} cannot be read ({exc.strerror or exc}).") from None
    try:
        conversations, skipped = read_export(data)
    except ImportRefused as exc:
        raise ConfigError(f"Nothing imported from {source}: {exc}") from None
    db = Database(settings.database_url)
    try:
        user_id = await find_person(db, who)
        if user_id is None:
            raise ConfigError(f"No one called {who!r} is stored here. {WHO}")
        report = await import_conversations(db, user_id, conversations, skipped)
    finally:
        await db.dispose()
    lines = [f"skipped {line}" for line in report.skipped]
    if report.conversations == 0:
        lines.append(f"Nothing new to import from {source}.")
        return "\n".join(lines)
    span = f", {report.first:%Y-%m-%d} to {report.last:%Y-%m-%d}" if report.first and report.last else ""
    lines.append(
        f"Imported {_count(report.conversations, 'conversation')} ({_count(report.messages, 'message')}{span}) "
        f"for {who}. "
        "They are indexed for memory search when the assistant next starts, or within minutes if it is running."
    )
    return "\n".join(lines)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
