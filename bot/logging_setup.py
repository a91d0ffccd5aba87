"""Logging: one line per event, secrets never included."""

from __future__ import annotations

import logging
from pathlib import Path

QUIET_LIBRARIES = (
    "httpx",
    "httpx2",
    "httpcore",
    "openai",
    "aiosqlite",
    "asyncio",
    "discord.gateway",
    "discord.http",
    "alembic.runtime.plugins",
)


def configure_logging(level: str, *, log_file: Path | None = None, console_level: str | None = None) -> None:
    """Log to stderr (and to ``log_file`` when given, e.g. during the terminal chat)."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level.upper())
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler()
    console.setLevel((console_level or level).upper())
    console.setFormatter(formatter)
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    # Request lines of HTTP clients carry URLs, never keys, but are noise at INFO.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
