"""``captainslog export-data PERSON [--out FILE]``: everything stored about a person, as one zip."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError, first_line
from core.clock import system_clock
from core.daily.document import PdfCache
from core.data_export.command import export_person
from core.db.database import Database
from core.identity.lookup import find_person, person_name

WHO = (
    "Name the person by email (ada@example.org), by account (discord:global:123…, slack:T…:U…, "
    "terminal:local:NAME) or by their terminal name."
)


async def open_database(settings: Settings) -> Database:
    """The database as the bot opens it: migrated first unless AUTO_MIGRATE=false (a new install has no tables)."""
    db = Database(settings.database_url)
    if settings.auto_migrate:
        try:
            await db.migrate()
        except Exception as exc:  # noqa: BLE001 - one sentence for the person at the command line
            await db.dispose()
            raise ConfigError(f"The database {db.display_url} cannot be opened: {first_line(exc)}") from exc
    return db


def _nobody(who: str) -> ConfigError:
    return ConfigError(
        f"No one called {who!r} is stored here. {WHO} A terminal name exists once that person has started "
        "`captainslog chat`; a Discord or Slack account once it has written to the assistant."
    )


async def run_export_data(settings: Settings, who: str, out: Path | None) -> str:
    """Write the person's archive; the sentence to print."""
    db = await open_database(settings)
    try:
        user_id = await find_person(db, who)
        if user_id is None:
            raise _nobody(who)
        data = await export_person(db, user_id, clock=system_clock, pdfs=PdfCache(settings.data_dir / "daily"))
    finally:
        await db.dispose()
    if data is None:
        raise _nobody(who)
    slug = re.sub(r"[^\w.-]+", "-", who).strip("-") or "person"
    path = out or Path.cwd() / f"captainslog-export-{slug}-{datetime.now():%Y%m%d}.zip"
    if path.exists():
        raise ConfigError(f"{path} exists already; name a new file with --out.")
    path.write_bytes(data)
    return f"Wrote {path} ({len(data) / 1024:.0f} KB): everything stored about {who}."


async def run_import_chatgpt(settings: Settings, who: str, source: Path, *, summaries: bool = True) -> str:
    """Import a ChatGPT data export for the person, then summarise its days (unless ``summaries`` is off);
    the lines to print (a line per item skipped, the total, the days summarised)."""
    from core.data_import.chatgpt import ImportRefused, import_conversations, read_export

    try:
        data = await asyncio.to_thread(source.read_bytes)
    except OSError as exc:
        raise ConfigError(f"{source} cannot be read ({exc.strerror or exc}).") from None
    try:
        conversations, skipped = read_export(data)
    except ImportRefused as exc:
        raise ConfigError(f"Nothing imported from {source}: {exc}") from None
    db = await open_database(settings)
    try:
        user_id = await find_person(db, who)
        if user_id is None:
            raise _nobody(who)
        report = await import_conversations(db, user_id, conversations, skipped)
        lines = [f"skipped {line}" for line in report.skipped]
        if report.conversations == 0:
            lines.append(f"Nothing new to import from {source}.")
        else:
            span = f", {report.first:%Y-%m-%d} to {report.last:%Y-%m-%d}" if report.first and report.last else ""
            lines.append(
                f"Imported {_count(report.conversations, 'conversation')} ({_count(report.messages, 'message')}"
                f"{span}) for {who}. They are indexed for memory search when the assistant next starts, "
                "or within minutes if it is running."
            )
        if summaries:
            lines.append(await _summarise_days(settings, db, user_id))
    finally:
        await db.dispose()
    return "\n".join(lines)


async def _summarise_days(settings: Settings, db: Database, user_id: int) -> str:
    """Summarise the imported days that have no summary yet; one line saying what was done."""
    from bot.model import build_model
    from core.data_import.summaries import summarise_imported_days
    from core.summaries.writer import SummaryWriter
    from core.timefmt import zone
    from core.tokens import TokenCounter

    person = await person_name(db, user_id)
    model = build_model(settings)
    try:
        done = await summarise_imported_days(
            db,
            SummaryWriter(model, model_name=settings.summary_model or settings.chat_model),
            user_id=user_id,
            user_name=person.display_name if person else "",
            tz=zone(person.timezone if person else None, settings.default_timezone),
            clock=system_clock,
            counter=TokenCounter(settings.chat_model),
        )
    finally:
        await model.close()
    if done.stopped:
        return (
            f"Summarised {_count(done.written, 'day')}; {_count(done.left, 'day')} not yet: {done.stopped} "
            "Run the same command again to finish them: nothing is imported twice."
        )
    if done.written == 0:
        return "Every imported day already has its summary."
    return f"Summarised {_count(done.written, 'day')} of imported history, one summary per conversation and day."


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
