"""Command line: ``captainslog [run|chat|migrate|doctor|backup|restore]`` (also ``python -m bot ...``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError, first_line
from bot.logging_setup import configure_logging

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.container import Container
    from bot.web import WebServer

log = logging.getLogger("bot")

NO_COMMAND = (
    "Without a command: `run` when a chat platform is configured (DISCORD_TOKEN, or the SLACK_* tokens), "
    "otherwise `chat` in the terminal. Both serve the web app too (WEB_HOST:WEB_PORT, default "
    "http://127.0.0.1:8080) and print its address."
)
WHERE = (
    "Settings come from the environment and from the file .env in the current directory. The SQLite "
    "database, the log and saved files go to DATA_DIR (default: data/ in the current directory); "
    "DATABASE_URL puts the database elsewhere (sqlite:///path/to/file.db or postgresql://...). "
    "`captainslog doctor` shows which database is used."
)


def _settings() -> Settings:
    # Imported here, not at the top: `--version` and `--help` answer without loading pydantic and SQLAlchemy.
    from pydantic import ValidationError

    from bot.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(error["loc"], error["msg"]) for error in exc.errors())
        raise ConfigError(f"Some settings are wrong: {problems.rstrip('.')}.") from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    name = ".".join(str(part) for part in loc).upper() or "settings"
    message = message.removeprefix("Value error, ")
    return message if message.startswith(name) else f"{name}: {message}"


def _version() -> str:
    try:
        return version("captainslog")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _log_locations(settings: Settings) -> None:
    """Where settings and data come from: starting in another folder otherwise silently opens another database."""
    dotenv = Path.cwd() / ".env"
    log.info("settings from the environment%s", f" and {dotenv}" if dotenv.is_file() else f" (no .env in {Path.cwd()})")
    from core.db.url import database_location

    log.info("database: %s", database_location(settings.database_url))


async def _chat(settings: Settings, *, transcript: bool | None = None) -> None:
    from adapters.errors import PlatformStartError
    from adapters.terminal import TerminalChat
    from bot.container import Container
    from bot.forget_wiring import terminal_files_dir

    _log_locations(settings)
    container = await Container.create(settings)
    try:
        web = container.web_services()  # sign-in from the terminal needs the callback served
        notice = ""
        for service in web:
            try:
                await service.start()
            except (OSError, PlatformStartError) as exc:  # e.g. `run` already serves the port: chat on, without it
                log.warning("the web server could not start (%s); sign-in links will not work from here", exc)
                notice = f"No web app from this chat: {exc}"
            else:
                notice = web_app_notice(container, service, sign_in="Type /account here for a sign-in link.")
        try:
            # The core's commands as on Discord and Slack; leaving waits for after-answer work. Without a
            # chat platform configured the daily log closes the terminal user's days while the chat is open
            # (a day missed is caught up at the next start); with one, `captainslog run` does it.
            await TerminalChat(
                container.chat,
                user=settings.terminal_user,
                files_dir=terminal_files_dir(settings.data_dir, settings.terminal_user),
                outbox=container.outbox,
                commands=container.commands,
                services=[] if settings.platforms else container.scheduled_services(reachable_only=True),
                tasks=container.tasks,
                transcript=transcript,
                notice=notice,
            ).run()
        finally:
            for service in web:
                await service.stop()
    finally:
        await container.close()


async def _run(settings: Settings) -> None:
    from bot.config import PLATFORM_VARIABLES
    from bot.container import Container
    from bot.platforms import build_platform_services
    from bot.runtime import run_services

    needed = "; ".join(f"{name}: {variables}" for name, variables in PLATFORM_VARIABLES.items())
    no_platform = f"No chat platform is configured. Set {needed} (see .env.example), or use `captainslog chat`."
    _log_locations(settings)
    container = await Container.create(settings)
    try:
        if not settings.platforms:
            await _serve_web_alone(container, no_platform)
            return
        platforms = build_platform_services(container)
        # The web server (sign-in callbacks) runs beside them; only the platforms decide whether to give up.
        report = await run_services(
            [*platforms, *container.web_services(), *container.scheduled_services()],
            needed=[p.name for p in platforms],
            start_timeout=settings.platform_start_timeout,
        )
    finally:
        await container.close()
    if report.gave_up:
        raise ConfigError("No chat platform could start; the reason is in the line(s) above.")


async def _serve_web_alone(container: Container, no_platform: str) -> None:
    """`run` without a chat platform: the web app (and the daily log, reminders) until stopped."""
    from bot.runtime import run_services

    web = container.web_services()
    if container.webapp is None or not web:
        raise ConfigError(no_platform)
    announced = _Announced(container, web[0])
    report = await run_services([announced, *container.scheduled_services()], needed=[announced.name])
    if report.gave_up:
        raise ConfigError("The web server could not start; the reason is in the line(s) above.")


class _Announced:
    """The web server as a service that says its address once it listens (the port really bound)."""

    name = "web"

    def __init__(self, container: Container, server: WebServer) -> None:
        self.container = container
        self.server = server

    async def start(self) -> None:
        await self.server.start()
        notice = web_app_notice(
            self.container,
            self.server,
            sign_in="Sign in with the link `captainslog link` prints (run it in this folder).",
        )
        print(f"No chat platform is configured: serving the web app alone. {notice}", flush=True)

    async def stop(self) -> None:
        await self.server.stop()


def web_app_notice(container: Container, server: WebServer, *, sign_in: str) -> str:
    """One line with the web app's local address (the port really bound) and ``sign_in``, how to get a link
    from where this process runs; "" without the web app."""
    if container.webapp is None:
        return ""
    host = "127.0.0.1" if server.host in ("0.0.0.0", "", "::") else server.host
    host = f"[{host}]" if ":" in host else host
    public = container.settings.public_url
    there = f" (and at {public})" if public else ""
    return f"The web app: http://{host}:{server.port}{there}. {sign_in}"


async def _link(settings: Settings) -> str:
    """A single-use sign-in link to the web app for the person at this terminal (TERMINAL_USER)."""
    from bot.container import Container
    from core.types import PlatformIdentity

    container = await Container.create(settings)
    try:
        if container.webapp is None:
            raise ConfigError("The web app is not set up (it needs SECRET_KEY); set it in .env (see .env.example).")
        user = settings.terminal_user
        try:
            link = await container.webapp.sessions.link(PlatformIdentity("terminal", "local", user, user))
        except PermissionError:
            raise ConfigError(f"The terminal user {user} may not use this assistant (ALLOWED_ACCOUNTS).") from None
    finally:
        await container.close()
    return (
        f"{link}\nOpen it in your browser to sign in to the web app as {user} (it works once, for 10 minutes). "
        "The web server runs with `captainslog run` or `captainslog chat`."
    )


async def _migrate(settings: Settings) -> None:
    from core.db.database import Database

    db = Database(settings.database_url)
    try:
        await db.migrate()
    except Exception as exc:  # noqa: BLE001 - one sentence for the user
        raise ConfigError(f"Migrating {db.display_url} failed: {first_line(exc)}") from exc
    finally:
        await db.dispose()
    print(f"Database {db.display_url} is up to date.")


async def _doctor(settings: Settings) -> int:
    from bot.doctor import run_checks

    checks = await run_checks(settings)
    for check in checks:
        print(f"{check.mark} {check.line}")
    return 1 if any(check.fails for check in checks) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="captainslog",
        description="CaptainsLog, a personal assistant for Discord, Slack, the terminal and the web. " + NO_COMMAND,
        epilog=WHERE,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(
        dest="command",
        title="commands",
        metavar="{run,chat,link,migrate,doctor,backup,restore,export-data,import-chatgpt}",
    )
    sub.add_parser("run", help="serve every configured platform (Discord, Slack) and the web app (alone when none is)")
    chat = sub.add_parser("chat", help="chat in the terminal (the web app is served meanwhile)")
    chat.add_argument(
        "--transcript",
        action="store_true",
        help="print the prompts and labels even when the output is not a terminal (a file or a pipe)",
    )
    sub.add_parser("link", help="print a single-use sign-in link to the web app for the terminal user")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("doctor", help="check settings, database, model endpoint and platform tokens")
    backup = sub.add_parser("backup", help="a consistent copy of the database, also while the bot runs")
    backup.add_argument("file", nargs="?", type=Path, help="where to write it (default: DATA_DIR/backups/…)")
    restore = sub.add_parser("restore", help="put a backup in place of the database (stop the bot first)")
    restore.add_argument("file", type=Path, help="a file made by `captainslog backup`")
    restore.add_argument("--force", action="store_true", help="replace a database that holds messages")
    export = sub.add_parser("export-data", help="everything stored about a person, as one zip (messages, memories, …)")
    export.add_argument("person", help="an email, an account (discord:global:123…, slack:T…:U…) or a terminal name")
    export.add_argument("--out", type=Path, help="the zip to write (default: captainslog-export-PERSON-DATE.zip here)")
    imports = sub.add_parser("import-chatgpt", help="bring a ChatGPT data export into a person's history")
    imports.add_argument("person", help="an email, an account (discord:global:123…, slack:T…:U…) or a terminal name")
    imports.add_argument("file", type=Path, help="ChatGPT's export zip, or the conversations.json inside it")
    imports.add_argument("--no-summaries", action="store_true", help="do not summarise each imported day now")
    args = parser.parse_args(argv)
    from bot.secret_file import with_secret_key
    from core.db.backup import in_use
    from core.db.url import DatabaseUrlError

    command: str = args.command or "run"
    exit_code = 0
    try:
        settings = _settings()
        command = args.command or ("run" if settings.platforms else "chat")
        if command in ("chat", "run", "link"):
            from bot.model import api_key_for

            api_key_for(settings)  # a missing key fails here, before the log file and data folder are made
        if command == "chat":
            log_file = settings.data_dir / "captainslog.log"
            try:
                configure_logging(settings.log_level, log_file=log_file, console_level="ERROR")
            except OSError as exc:
                raise ConfigError(
                    f"The data folder {settings.data_dir} cannot be used ({exc.strerror or exc}); "
                    "set DATA_DIR to a folder you can write to."
                ) from None
            settings = with_secret_key(settings)  # the web app from the first run, without setting SECRET_KEY
            with in_use(settings.database_url):  # `restore` refuses while a chat or the bot runs on it
                asyncio.run(_chat(settings, transcript=True if getattr(args, "transcript", False) else None))
        elif command == "run":
            configure_logging(settings.log_level)
            settings = with_secret_key(settings)
            with in_use(settings.database_url):
                asyncio.run(_run(settings))
        elif command == "backup":
            from datetime import UTC, datetime

            from bot.backup_cli import run_backup

            configure_logging("ERROR")
            print(run_backup(settings, args.file, datetime.now(UTC).astimezone()))
        elif command == "restore":
            from bot.backup_cli import run_restore

            configure_logging("ERROR")
            print(asyncio.run(run_restore(settings, args.file, force=args.force)))
        elif command == "export-data":
            from bot.data_cli import run_export_data

            configure_logging("ERROR")
            print(asyncio.run(run_export_data(settings, args.person, args.out)))
        elif command == "import-chatgpt":
            from bot.data_cli import run_import_chatgpt

            configure_logging("ERROR")
            print(asyncio.run(run_import_chatgpt(settings, args.person, args.file, summaries=not args.no_summaries)))
        elif command == "link":
            configure_logging("ERROR")
            print(asyncio.run(_link(with_secret_key(settings))))
        elif command == "migrate":
            configure_logging(settings.log_level)
            asyncio.run(_migrate(settings))
        else:
            configure_logging("ERROR")
            exit_code = asyncio.run(_doctor(with_secret_key(settings, create=False)))  # looks, makes nothing
        sys.stdout.flush()  # inside the try: a reader that left (`| head -1`) is a BrokenPipeError caught below
    except (ConfigError, DatabaseUrlError) as exc:
        print(f"captainslog: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `captainslog link | head -1`: the reader left. Point stdout at nothing so the exit's flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a one-shot command (backup, export-data …) failing: one line, not a traceback
        if command in ("chat", "run"):
            raise
        log.debug("captainslog %s failed", command, exc_info=exc)
        print(f"captainslog: {command} failed: {first_line(exc)}", file=sys.stderr)
        return 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
