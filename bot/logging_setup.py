"""Logging: one line per event, secrets never included."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TextIO

QUIET_LIBRARIES = (
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "aiosqlite",
    "asyncio",
    "discord.gateway",
    "discord.http",
    "alembic.runtime.plugins",
    # "Running job …" and "Job … executed successfully" every minute for the scheduler's tick.
    "apscheduler",
    # "Step 2 - Fetching and parsing CSS - CSS string" at each render; its warnings
    # (bad CSS, an image it could not load) still come through.
    "weasyprint",
)

# At a terminal, `migrate` (and the first start) would print a line per migration step
# and two about the SQLite dialect; the person is told "up to date". A log file, or a
# console that is not a terminal (a service's journal), keeps them.
TERMINAL_QUIET = ("alembic",)

# Their DEBUG and INFO lines carry short-lived credentials (Discord interaction
# webhook tokens, the Socket Mode ticket URL, Slack response_urls, request
# bodies), so they stay at WARNING even when LOG_LEVEL=DEBUG.
CREDENTIAL_CARRIERS = ("discord.webhook", "slack_bolt", "slack_sdk", "httpcore2", "httpcore", "httpx", "httpx2")
# Google's OAuth and API clients log token requests and responses at DEBUG.
CREDENTIAL_CARRIERS += ("requests_oauthlib", "oauthlib", "urllib3", "googleapiclient", "google_auth_httplib2")

# Warnings every start prints about features the bot does not use (voice; a token
# bolt ignores because the bot hands it a ready client): (logger, text) pairs.
START_UP_NOISE = (
    ("discord.client", "PyNaCl is not installed"),
    ("discord.client", "davey is not installed"),
    ("slack_bolt", "`token` will be unused"),
)


def _within(name: str, family: str) -> bool:
    return name == family or name.startswith(family + ".")


class LibraryFilter(logging.Filter):
    """Drops records below WARNING from ``quiet`` logger families, and the known start-up noise.

    It sits on the handlers, not on the loggers: bolt sets each of its loggers
    to the root level when it creates them, which a parent's level cannot undo.
    """

    def __init__(
        self,
        quiet: tuple[str, ...] = CREDENTIAL_CARRIERS,
        noise: tuple[tuple[str, str], ...] = START_UP_NOISE,
    ) -> None:
        super().__init__()
        self.quiet = quiet
        self.noise = noise

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and any(_within(record.name, family) for family in self.quiet):
            return False
        if _within(record.name, "sqlalchemy.pool") and record.exc_info and record.exc_info[0] is asyncio.CancelledError:
            # Work cancelled at a stop gave its connection back mid-rollback: the pool drops that
            # connection and nothing is lost, but SQLAlchemy logs it as an error with a traceback.
            return False
        return not any(_within(record.name, family) and text in record.getMessage() for family, text in self.noise)


class OneLineFormatter(logging.Formatter):
    """A log line without its traceback: for a console that a person reads while the file keeps the details."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        return line + (" (details in the log file)" if saved[0] else "")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def configure_logging(level: str, *, log_file: Path | None = None, console_level: str | None = None) -> None:
    """Log to stderr (and to ``log_file`` when given, e.g. during the terminal chat).

    With a log file the console gets one line per record: tracebacks go to the file only.
    A console that is a terminal leaves Alembic's INFO lines out (`TERMINAL_QUIET`).
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level.upper())
    pattern = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    formatter = logging.Formatter(pattern)
    console = logging.StreamHandler()
    console.setLevel((console_level or level).upper())
    console.setFormatter(OneLineFormatter(pattern) if log_file is not None else formatter)
    quiet = CREDENTIAL_CARRIERS + (TERMINAL_QUIET if _is_terminal(console.stream) else ())
    console.addFilter(LibraryFilter(quiet))
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(formatter)
        file_handler.addFilter(LibraryFilter())
        root.addHandler(file_handler)
    # Request lines of HTTP clients carry URLs, never keys, but are noise at INFO (and so are WeasyPrint's steps).
    for name in (*QUIET_LIBRARIES, *CREDENTIAL_CARRIERS):
        logging.getLogger(name).setLevel(logging.WARNING)
