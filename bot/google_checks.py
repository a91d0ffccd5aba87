"""`doctor` checks for sign-in and Google: the OAuth client, SECRET_KEY against stored tokens, PUBLIC_URL."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from bot.config import Settings
from bot.errors import ConfigError, first_line
from bot.identity_wiring import google_client_config, token_cipher
from bot.web import WebServer, create_app
from core.db.database import Database
from core.db.models_identity import GoogleToken
from core.google.tokens import TokenDecryptError

Result = tuple[bool, str]


async def google_checks(settings: Settings, db: Database | None = None) -> list[Result]:
    """One (ok, line) per check; ``db`` (migrated) lets the SECRET_KEY check read stored tokens."""
    results: list[Result] = []
    stored = await _a_stored_token(db) if db is not None else None
    if not settings.google_configured:
        if settings.allowed_emails:
            results.append((False, "ALLOWED_EMAILS is set but GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET are not"))
        else:
            results.append((True, "Google sign-in is off (GOOGLE_CLIENT_ID not set)"))
        if stored is not None:
            results.append(_secret_key_check(settings, stored))
        return results
    results.append(_secret_key_check(settings, stored))
    results.append(await _client_check(settings))
    results.append(await _public_url_check(settings))
    return results


async def _a_stored_token(db: Database) -> str | None:
    try:
        async with db.engine.connect() as conn:
            return await conn.scalar(select(GoogleToken.refresh_token).limit(1))
    except Exception:  # noqa: BLE001 - no table yet (migrations pending) means no tokens
        return None


def _secret_key_check(settings: Settings, stored: str | None) -> Result:
    try:
        cipher = token_cipher(settings)
    except ConfigError as exc:
        return False, str(exc)
    if stored is None:
        return True, "SECRET_KEY set (no Google tokens stored yet)"
    try:
        cipher.decrypt(stored)
    except TokenDecryptError:
        return False, "stored Google tokens cannot be decrypted with SECRET_KEY: put the previous key in SECRET_KEY_OLD"
    return True, "SECRET_KEY opens the stored Google tokens"


async def _client_check(settings: Settings) -> Result:
    """Google answers a made-up code with ``invalid_grant`` for a known client, ``invalid_client`` otherwise."""
    config = google_client_config(settings)
    form = {
        "grant_type": "authorization_code",
        "code": "captainslog-doctor-check",
        "redirect_uri": config.redirect_uri,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=config.timeout)) as session,
            session.post(config.token_url, data=form) as answer,
        ):
            body = await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return False, f"Google's token endpoint {config.token_url} cannot be reached: {first_line(exc)}"
    error = body.get("error") if isinstance(body, dict) else None
    if error == "invalid_grant":
        return True, f"Google OAuth client {config.client_id} accepted"
    if error in ("invalid_client", "unauthorized_client"):
        return False, "Google does not accept GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET: copy them again from the console"
    if error == "redirect_uri_mismatch":
        return False, f"add {config.redirect_uri} to the client's authorized redirect URIs in the Google console"
    return False, f"Google's token endpoint answered unexpectedly: {error or answer.status}"


async def _get_health(url: str, timeout: float) -> str | None:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, allow_redirects=False) as answer,
        ):
            return None if answer.status == 200 and (await answer.text()).strip() == "ok" else f"HTTP {answer.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return first_line(exc) or type(exc).__name__


async def _public_url_check(settings: Settings) -> Result:
    if not settings.public_url:
        return False, f"PUBLIC_URL is not set: sign-in links would point at {settings.public_base_url}"
    url = settings.public_base_url + "/healthz"
    problem = await _get_health(url, 10)
    if problem is None:
        return True, f"PUBLIC_URL {settings.public_base_url} reaches the bot's web server"
    # The bot is probably not running: serve /healthz for a moment to test the tunnel or proxy.
    server = WebServer(create_app(signin=None), host=settings.web_host, port=settings.web_port)
    try:
        await server.start()
    except OSError:
        return False, f"PUBLIC_URL {settings.public_base_url} cannot be reached: {problem}"
    try:
        problem = await _get_health(url, 10)
    finally:
        await server.stop()
    if problem is None:
        return True, f"PUBLIC_URL {settings.public_base_url} reaches this machine's web server"
    return False, (
        f"PUBLIC_URL {settings.public_base_url} cannot be reached ({problem}): it must forward to "
        f"{settings.web_host}:{settings.web_port}"
    )
