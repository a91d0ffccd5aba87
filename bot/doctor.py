"""`python -m bot doctor`: check settings, database and model endpoint, one line each."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.container import build_model
from bot.errors import ConfigError, first_line
from core.db.database import Database
from core.llm import ModelError


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; a failed one says what is wrong and what to do."""
    checks: list[Check] = [Check(True, f"settings loaded (time zone {settings.default_timezone})")]

    db = Database(settings.database_url)
    try:
        await db.ping()
        pending = await db.pending_migrations()
        checks.append(
            Check(
                not pending or settings.auto_migrate,
                f"database {db.display_url} reachable"
                + ("; migrations pending (applied at start)" if pending and settings.auto_migrate else "")
                + (
                    "; migrations pending: run `python -m bot migrate`" if pending and not settings.auto_migrate else ""
                ),
            )
        )
    except Exception as exc:  # noqa: BLE001 - reported as one line
        checks.append(Check(False, f"database {db.display_url} cannot be used: {first_line(exc)}"))
    finally:
        await db.dispose()

    try:
        model = build_model(settings)
    except ConfigError as exc:
        checks.append(Check(False, str(exc)))
    else:
        try:
            names = await model.list_models()
        except ModelError as exc:
            checks.append(Check(False, f"model endpoint {model.base_url}: {exc.user_message}"))
        else:
            checks.append(
                Check(
                    True,
                    f"model endpoint {model.base_url} answers ({len(names)} model{'s' if len(names) != 1 else ''} served)",
                )
            )
            if names and settings.chat_model not in names:
                checks.append(
                    Check(False, f"chat model {settings.chat_model!r} is not served by the endpoint; set CHAT_MODEL")
                )
        finally:
            await model.close()

    platforms = settings.platforms
    checks.append(
        Check(
            True,
            "platforms configured: " + ", ".join(platforms)
            if platforms
            else "no chat platform configured: `python -m bot` starts the terminal chat",
        )
    )
    return checks
