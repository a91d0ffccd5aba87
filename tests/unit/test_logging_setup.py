"""Logging at DEBUG: our own lines stay, credential-carrying library lines and start-up noise do not."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest
from discord.voice_client import VoiceClient
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import CREDENTIAL_CARRIERS, QUIET_LIBRARIES, configure_logging

TICKET = "wss://wss-primary.slack.com/link/?ticket=d7ac0a7c-secret-ticket"
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246secret-interaction-token"


@contextlib.contextmanager
def _session_logging_restored() -> Iterator[None]:
    """Put the test session's logging back after a test configured the bot's."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    touched = [*QUIET_LIBRARIES, *CREDENTIAL_CARRIERS, "slack_bolt.AsyncApp"]
    levels = {name: logging.getLogger(name).level for name in touched}
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The bot's logging at DEBUG into a file; the test session's logging is put back afterwards."""
    path = tmp_path / "captainslog.log"
    with _session_logging_restored():
        configure_logging("DEBUG", log_file=path, console_level="CRITICAL")
        yield path


def test_library_lines_that_carry_credentials_are_not_written_at_debug(
    log_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    AsyncApp(client=AsyncWebClient(token="xoxb-test"), request_verification_enabled=False)
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    assert bolt.isEnabledFor(logging.DEBUG), "bolt set its own logger to the root level, past any parent's level"

    bolt.debug("Received request body: response_url=https://hooks.slack.com/actions/T1/1/secret-response-url")
    logging.getLogger("slack_sdk.socket_mode.aiohttp").debug("Connecting to %s", TICKET)
    logging.getLogger("discord.webhook.async_").debug("Webhook ID 1 with token %s", INTERACTION_TOKEN)
    logging.getLogger("httpcore2.http11").debug("send_request_headers.started request=<Request [b'POST']>")
    logging.getLogger("httpx").info("HTTP Request: POST https://slack.com/api/chat.postMessage")
    logging.getLogger("core.chat.turn").debug("user message: my favourite colour is teal")
    logging.getLogger("slack_sdk.socket_mode.aiohttp").warning("The connection was closed; reconnecting")

    written = log_file.read_text(encoding="utf-8")
    assert "secret" not in written
    assert "send_request_headers" not in written and "HTTP Request" not in written
    assert "DEBUG core.chat.turn: user message: my favourite colour is teal" in written
    assert "WARNING slack_sdk.socket_mode.aiohttp: The connection was closed; reconnecting" in written
    assert "secret-response-url" in caplog.text, "the line was emitted; the bot's handlers dropped it"


def test_start_up_warnings_about_unused_features_are_dropped(
    log_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # discord.py warns once per process; make this client the first one.
    monkeypatch.setattr(VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(VoiceClient, "warn_dave", True)
    discord.Client(intents=discord.Intents.none())
    AsyncApp(client=AsyncWebClient(token="xoxb-test"), token="xoxb-test", request_verification_enabled=False)
    logging.getLogger("discord.client").warning("Shard ID None heartbeat blocked for more than 10 seconds.")

    emitted, written = caplog.text, log_file.read_text(encoding="utf-8")
    assert "PyNaCl is not installed" in emitted and "davey is not installed" in emitted
    assert "`token` will be unused" in emitted
    assert "PyNaCl" not in written and "davey" not in written
    assert "will be unused" not in written
    assert "WARNING discord.client: Shard ID None heartbeat blocked for more than 10 seconds." in written


def test_weasyprint_progress_lines_are_held_back_and_its_warnings_kept(log_file: Path) -> None:
    logging.getLogger("weasyprint.progress").info("Step 2 - Fetching and parsing CSS - CSS string")
    logging.getLogger("weasyprint").warning("Ignored `colour: teal` at 3:1, unknown property.")

    written = log_file.read_text(encoding="utf-8")
    assert "Step 2" not in written
    assert "WARNING weasyprint: Ignored `colour: teal` at 3:1, unknown property." in written


async def test_the_scheduler_tick_writes_nothing_at_info(log_file: Path) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    ran = asyncio.Event()
    scheduler = AsyncIOScheduler()
    scheduler.add_job(ran.set, "interval", minutes=1, next_run_time=datetime.now(UTC))
    scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), 10)
        await asyncio.sleep(0)  # let the executor log "executed successfully"
    finally:
        scheduler.shutdown(wait=False)
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed by 0:01:00")

    written = await asyncio.to_thread(log_file.read_text, encoding="utf-8")
    assert "Running job" not in written and "executed successfully" not in written
    assert "WARNING apscheduler.scheduler: Run time of job was missed" in written


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("at_a_terminal", [True, False])
def test_alembic_steps_stay_off_a_terminal_and_in_the_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at_a_terminal: bool
) -> None:
    console = _Terminal() if at_a_terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)
    path = tmp_path / "captainslog.log"
    with _session_logging_restored():
        configure_logging("INFO", log_file=path)
        logging.getLogger("alembic.runtime.migration").info("Running upgrade  -> 0001, Users, identities")
        logging.getLogger("alembic.runtime.migration").warning("The database is ahead of the code")
        logging.getLogger("bot").info("database: SQLite file /tmp/x.db")

    shown, written = console.getvalue(), path.read_text(encoding="utf-8")
    assert ("Running upgrade" in shown) is not at_a_terminal
    assert "WARNING alembic.runtime.migration: The database is ahead of the code" in shown
    assert "INFO bot: database: SQLite file /tmp/x.db" in shown
    assert "INFO alembic.runtime.migration: Running upgrade  -> 0001, Users, identities" in written


def test_a_connection_given_back_by_a_task_cancelled_at_a_stop_is_not_logged_as_an_error() -> None:
    """A run that gave up (a platform out of reach) cancelled background work mid-query; SQLAlchemy then logged
    "Exception during reset or similar" with a CancelledError traceback at exit. The pool drops that
    connection and nothing is lost, so it is not an error; any other failure of a reset still is."""
    from bot.logging_setup import LibraryFilter

    def record(name: str, exc: BaseException) -> logging.LogRecord:
        made = logging.LogRecord(name, logging.ERROR, __file__, 1, "Exception during reset or similar", (), None)
        made.exc_info = (type(exc), exc, None)
        return made

    keep = LibraryFilter().filter
    assert not keep(record("sqlalchemy.pool.impl.AsyncAdaptedQueuePool", asyncio.CancelledError()))
    assert keep(record("sqlalchemy.pool.impl.AsyncAdaptedQueuePool", OSError("disk I/O error")))
    assert keep(record("core.reminders.runner", asyncio.CancelledError()))
