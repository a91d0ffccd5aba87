"""`captainslog doctor`: check settings, database, model endpoint and platform tokens, one line each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import discord
from slack_sdk.web.async_client import AsyncWebClient

from adapters.discord.service import point_discord_at, start_failure_sentence
from adapters.errors import PlatformStartError, PlatformUnreachable
from adapters.slack.credentials import check_bot_token, open_socket_url
from bot.config import Settings
from bot.container import build_model
from bot.errors import ConfigError, first_line
from bot.google_checks import google_checks
from core.db.database import Database
from core.db.url import DatabaseUrlError
from core.llm import ModelError

PLATFORM_TIMEOUT = 15.0


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; a failed one says what is wrong and what to do."""
    checks: list[Check] = [Check(True, f"settings loaded (time zone {settings.default_timezone})")]

    checks.append(await _database_check(settings))
    checks.extend(await _model_checks(settings))
    checks.extend(await _google_checks(settings))
    checks.extend(await _platform_checks(settings))
    return checks


async def _database_check(settings: Settings) -> Check:
    try:
        db = Database(settings.database_url)
    except DatabaseUrlError as exc:
        return Check(False, str(exc))
    where = "" if db.location == db.display_url else f" ({db.location})"
    try:
        await db.ping()
        pending = await db.pending_migrations()
        return Check(
            not pending or settings.auto_migrate,
            f"database {db.display_url} reachable{where}"
            + ("; migrations pending (applied at start)" if pending and settings.auto_migrate else "")
            + ("; migrations pending: run `captainslog migrate`" if pending and not settings.auto_migrate else ""),
        )
    except Exception as exc:  # noqa: BLE001 - reported as one line
        return Check(False, f"database {db.display_url}{where} cannot be used: {first_line(exc)}")
    finally:
        await db.dispose()


async def _model_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
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
    return checks


async def _google_checks(settings: Settings) -> list[Check]:
    """Sign-in and Google (bot/google_checks.py): the OAuth client, SECRET_KEY against stored tokens, PUBLIC_URL."""
    try:
        db: Database | None = Database(settings.database_url)
    except DatabaseUrlError:
        db = None  # the database check has said why
    try:
        return [Check(ok, line) for ok, line in await google_checks(settings, db)]
    finally:
        if db is not None:
            await db.dispose()


async def _platform_checks(settings: Settings) -> list[Check]:
    """Each configured platform is asked once whether it accepts its tokens."""
    checks: list[Check] = []
    if settings.discord_configured:
        checks.append(await _discord_check(settings))
    if settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value():
        checks.extend(await _slack_checks(settings))
    if not checks:
        checks.append(Check(True, "no chat platform configured: `captainslog` starts the terminal chat"))
    return checks


async def _discord_check(settings: Settings) -> Check:
    """``GET users/@me`` with DISCORD_TOKEN, through discord.py's own HTTP client."""
    assert settings.discord_token is not None
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        user = await asyncio.wait_for(http.static_login(settings.discord_token.get_secret_value()), PLATFORM_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - reported as one line
        return Check(False, start_failure_sentence(exc, settings.discord_api_url) or f"Discord: {first_line(exc)}")
    finally:
        await http.close()
    return Check(True, f"Discord accepts DISCORD_TOKEN (bot {user.get('username', '?')})")


async def _slack_checks(settings: Settings) -> list[Check]:
    """``auth.test`` with SLACK_BOT_TOKEN and, in Socket Mode, ``apps.connections.open`` with SLACK_APP_TOKEN."""
    assert settings.slack_bot_token is not None
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=base_url, timeout=int(PLATFORM_TIMEOUT)
    )
    checks: list[Check] = []
    try:
        info = await check_bot_token(client)
        checks.append(Check(True, f"Slack accepts SLACK_BOT_TOKEN (workspace {info['team'] or info['team_id']})"))
    except PlatformUnreachable as exc:
        return [Check(False, str(exc))]  # asking again with the app token would only say the same
    except PlatformStartError as exc:
        checks.append(Check(False, str(exc)))
    if settings.slack_mode == "http":
        if settings.slack_signing_secret is None:
            checks.append(Check(False, "Slack HTTP mode needs SLACK_SIGNING_SECRET"))
        return checks
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not app_token:
        checks.append(
            Check(False, "Slack Socket Mode needs SLACK_APP_TOKEN (or SLACK_MODE=http with SLACK_SIGNING_SECRET)")
        )
        return checks
    try:
        await open_socket_url(client, app_token)
        checks.append(Check(True, "Slack accepts SLACK_APP_TOKEN (Socket Mode)"))
    except PlatformStartError as exc:
        checks.append(Check(False, str(exc)))
    return checks
