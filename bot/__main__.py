"""Command line: ``python -m bot [run|chat|migrate|doctor]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from bot.config import PLATFORM_VARIABLES, Settings
from bot.errors import ConfigError, first_line
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']).upper() or 'settings'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"Some settings are wrong: {problems}.") from None


async def _chat(settings: Settings) -> None:
    from adapters.terminal import TerminalChat
    from bot.container import Container

    container = await Container.create(settings)
    try:
        await TerminalChat(container.chat, user=settings.terminal_user, files_dir=settings.data_dir / "files").run()
    finally:
        await container.close()


async def _run(settings: Settings) -> None:
    from bot.container import Container
    from bot.platforms import build_platform_services
    from bot.runtime import run_services

    if not settings.platforms:
        needed = "; ".join(f"{name}: {variables}" for name, variables in PLATFORM_VARIABLES.items())
        raise ConfigError(
            f"No chat platform is configured. Set {needed} (see .env.example), or use `python -m bot chat`."
        )
    container = await Container.create(settings)
    try:
        await run_services(build_platform_services(container))
    finally:
        await container.close()


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
        print(("✓ " if check.ok else "✗ ") + check.line)
    return 0 if all(check.ok for check in checks) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="CaptainsLog, a personal assistant.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="serve every configured platform (Discord, Slack)")
    sub.add_parser("chat", help="chat in the terminal")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser("doctor", help="check settings, database and model endpoint")
    args = parser.parse_args(argv)
    try:
        settings = _settings()
        command = args.command or ("run" if settings.platforms else "chat")
        if command == "chat":
            configure_logging(settings.log_level, log_file=settings.data_dir / "captainslog.log", console_level="ERROR")
            asyncio.run(_chat(settings))
        elif command == "run":
            configure_logging(settings.log_level)
            asyncio.run(_run(settings))
        elif command == "migrate":
            configure_logging(settings.log_level)
            asyncio.run(_migrate(settings))
        else:
            configure_logging("ERROR")
            return asyncio.run(_doctor(settings))
    except ConfigError as exc:
        print(f"captainslog: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
