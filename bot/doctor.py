"""`captainslog doctor`: check settings, database, model endpoint, PDF rendering and platform tokens, one line each.

A check only looks: doctor run in the wrong folder must not leave a database there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import discord
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url

from adapters.discord.endpoints import point_discord_at, start_failure_sentence
from adapters.errors import PlatformStartError, PlatformUnreachable
from adapters.slack.credentials import check_bot_token, open_socket_url
from bot.config import Settings
from bot.errors import ConfigError, first_line
from bot.font_check import font_advice, uncovered_scripts
from bot.google_checks import google_checks
from bot.model import build_model
from bot.web_checks import web_problems, web_server_on
from core.db.database import Database
from core.db.url import DatabaseUrlError, normalize_database_url
from core.export.engine import pdf_problem, weasyprint
from core.llm import ModelError

PLATFORM_TIMEOUT = 15.0

# Each configured model, checked against the endpoint's list: (variable, setting, name, what needs it, required).
# Without a required one the assistant does not work; without another only that feature fails (a local
# server often has no image, speech or transcription model), so doctor warns but does not fail for it.
MODEL_SETTINGS = (
    ("CHAT_MODEL", "chat_model", "chat", "", True),
    ("EMBEDDING_MODEL", "embedding_model", "embedding", "every message is embedded", True),
    ("SUMMARY_MODEL", "summary_model", "summary", "summaries and the daily log", True),
    ("VISION_MODEL", "vision_model", "vision", "images sent to the assistant", False),
    ("TRANSCRIPTION_MODEL", "transcription_model", "transcription", "voice messages", False),
    ("IMAGE_MODEL", "image_model", "image", "pictures the assistant makes", False),
    ("SPEECH_MODEL", "speech_model", "speech", "spoken replies", False),
)


@dataclass(frozen=True)
class Check:
    """One line of the report: passed, failed, or (`warning`) failed for an optional feature only."""

    ok: bool
    line: str
    warning: bool = False

    @property
    def mark(self) -> str:
        """✓ passed, ✗ failed, ! only an optional feature is affected."""
        return "✓" if self.ok else "!" if self.warning else "✗"

    @property
    def fails(self) -> bool:
        """Whether doctor should exit non-zero for it."""
        return not self.ok and not self.warning


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; a failed one says what is wrong and what to do."""
    checks: list[Check] = [Check(True, f"settings loaded (time zone {settings.default_timezone})"), _dotenv_check()]
    missing = _missing_sqlite_file(settings.database_url)
    checks.append(await _database_check(settings, missing))
    checks.extend(await _model_checks(settings))
    checks.append(_pdf_check())
    checks.append(await asyncio.to_thread(_font_check))
    checks.extend(await _google_checks(settings, has_database=missing is None))
    checks.extend(_web_checks(settings))
    checks.extend(await _platform_checks(settings))
    return checks


def _dotenv_check() -> Check:
    """Where the settings came from: started in another folder, the bot reads another .env (or none)."""
    dotenv = Path.cwd() / ".env"
    if dotenv.is_file():
        return Check(True, f"settings from {dotenv} and the environment")
    return Check(True, f"no .env in {Path.cwd()}: using the environment only")


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file the settings name when it does not exist yet (opening it would create it), else None."""
    try:
        parsed = make_url(normalize_database_url(url))
    except DatabaseUrlError:
        return None  # the database check says why
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser().resolve()
    return None if path.exists() else path


async def _database_check(settings: Settings, missing: Path | None) -> Check:
    if missing is not None:
        if settings.auto_migrate:
            return Check(True, f"no database yet at {missing}: it is created at first start")
        return Check(False, f"no database yet at {missing}: run `captainslog migrate` to create it")
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
            checks.extend(_unserved_models(settings, names))
        finally:
            await model.close()
    return checks


def _unserved_models(settings: Settings, served: list[str]) -> list[Check]:
    """A line for each configured model the endpoint does not list (nothing when it lists none).

    Failing for a model the assistant needs, a warning for one that only a feature needs.
    """
    if not served:
        return []
    checks: list[Check] = []
    for variable, field, label, needed_for, required in MODEL_SETTINGS:
        name = getattr(settings, field)
        if name and not is_served(name, served):
            why = f" ({needed_for})" if needed_for else ""
            fix = f"set {variable}" if required else f"set {variable}, or leave it if you do not need that"
            line = f"{label} model {name!r} is not served by the endpoint{why}; {fix}"
            checks.append(Check(False, line, warning=not required))
    return checks


def is_served(name: str, served: list[str]) -> bool:
    """Whether the endpoint lists `name`; Ollama lists ``llama3`` as ``llama3:latest`` and answers to both."""
    return name in served or (":" not in name and f"{name}:latest" in served)


def _pdf_check() -> Check:
    """Whether WeasyPrint loads: it needs the Pango libraries, which pip does not install."""
    problem = pdf_problem()
    if problem is not None:
        return Check(False, f"PDF rendering: {problem}")
    return Check(True, f"PDF rendering works (WeasyPrint {getattr(weasyprint(), '__version__', '?')})")


def _font_check() -> Check:
    """Emoji and CJK fonts for the PDF: only a warning, the PDF renders either way."""
    missing = uncovered_scripts()
    if missing is None:
        return Check(False, "PDF fonts: fontconfig's fc-list is not installed, so they cannot be checked", warning=True)
    if missing:
        return Check(False, font_advice(missing), warning=True)
    return Check(True, "PDF fonts cover emoji, Chinese and Japanese")


async def _google_checks(settings: Settings, *, has_database: bool = True) -> list[Check]:
    """Sign-in and Google (bot/google_checks.py): the OAuth client, SECRET_KEY against stored tokens, PUBLIC_URL.

    Without a database yet there are no stored tokens to try SECRET_KEY on (and opening one would create it).
    """
    db: Database | None = None
    if has_database:
        try:
            db = Database(settings.database_url)
        except DatabaseUrlError:
            pass  # the database check has said why
    try:
        return [Check(ok, line) for ok, line in await google_checks(settings, db)]
    finally:
        if db is not None:
            await db.dispose()


def _web_checks(settings: Settings) -> list[Check]:
    """With the web server on: SECRET_KEY strong enough, PUBLIC_URL an absolute http(s) address."""
    if not web_server_on(settings):
        return []
    problems = web_problems(settings)
    if problems:
        return [Check(False, problem) for problem in problems]
    return [Check(True, f"web server settings are sound (links start with {settings.public_base_url})")]


async def _platform_checks(settings: Settings) -> list[Check]:
    """Each configured platform is asked once whether it accepts its tokens."""
    checks: list[Check] = []
    if settings.discord_configured:
        checks.append(await _discord_check(settings))
    if settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value():
        checks.extend(await _slack_checks(settings))
    if not checks:
        host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "", "::") else settings.web_host
        web = f"http://{host}:{settings.web_port}"  # the local address the first run prints
        checks.append(
            Check(True, f"no chat platform configured: `captainslog` starts the terminal chat and the web app at {web}")
        )
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
