"""``captainslog backup [file]`` and ``captainslog restore FILE [--force]``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import ConfigError
from core.db.backup import BackupError, backup, nobody_using, restore
from core.db.url import database_location


def default_backup_path(settings: Settings, now: datetime) -> Path:
    """data/backups/captainslog-20261207-2130.db (``.dump`` for PostgreSQL's custom format)."""
    suffix = ".dump" if settings.database_url.startswith("postgresql") else ".db"
    return settings.data_dir / "backups" / f"captainslog-{now:%Y%m%d-%H%M%S}{suffix}"


def run_backup(settings: Settings, target: Path | None, now: datetime) -> str:
    """Back up the configured database; the sentence to print."""
    path = target or default_backup_path(settings, now)
    try:
        result = backup(settings.database_url, path)
    except (BackupError, OSError) as exc:
        raise ConfigError(f"Backup failed: {exc}") from None
    held = f" ({result.messages} messages)" if result.messages is not None else ""
    return f"Backed up to {result.path}{held}. Restore it with: captainslog restore {result.path}"


async def run_restore(settings: Settings, source: Path, *, force: bool) -> str:
    """Restore a backup in place of the configured database, then migrate it; the sentence to print."""
    from core.db.database import Database, known_revisions

    try:
        with nobody_using(settings.database_url):
            messages = restore(settings.database_url, source, known_revisions(), force=force)
    except (BackupError, OSError) as exc:
        raise ConfigError(f"Restore refused: {exc}") from None
    db = Database(settings.database_url)
    try:
        await db.migrate()  # a copy made by an older version is brought up to date
    finally:
        await db.dispose()
    held = f" ({messages} messages)" if messages is not None else ""
    return f"Restored {source}{held} into the {database_location(settings.database_url)}."
