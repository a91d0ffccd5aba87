"""SECRET_KEY without setting it: made once, kept in the data folder (``DATA_DIR/secret_key``, mode 0600).

A newcomer with only an OpenAI key gets the web app on the first run. The key is never printed
or logged (only the file's path is); a SECRET_KEY set in the environment or .env always wins.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from bot.errors import ConfigError

log = logging.getLogger(__name__)

FILE_NAME = "secret_key"


def key_file(settings: Settings) -> Path:
    """Where the made key is kept."""
    return settings.data_dir / FILE_NAME


def with_secret_key(settings: Settings, *, create: bool = True) -> Settings:
    """``settings`` with SECRET_KEY from the data folder's key file when it is not set (made there when
    ``create`` and missing). Raises ConfigError when the file cannot be read or written."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings
    path = key_file(settings)
    try:
        key = _read(path) if path.exists() or not create else _make(path)
    except OSError as exc:
        raise ConfigError(
            f"SECRET_KEY is not set and {path} cannot be used ({exc.strerror or exc}); "
            "set SECRET_KEY in .env, or DATA_DIR to a folder you can write to."
        ) from None
    if key is None:
        return settings
    return settings.model_copy(update={"secret_key": SecretStr(key)})


def _read(path: Path) -> str | None:
    if not path.exists():
        return None
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # readable by others: the sessions and Google tokens depend on it
        log.warning("%s was readable by other users: now 0600", path)
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise OSError(f"{path} is empty")  # a half-written file: never run with an empty key
    return key


def _make(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    draft = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # 0600 from the start
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key + "\n")
    try:
        # A hard link appears whole and fails when the file exists: two processes starting at once
        # both end with the first one's key, and nobody reads a half-written file.
        os.link(draft, path)
    except FileExistsError:
        return _read(path) or ""
    finally:
        draft.unlink(missing_ok=True)
    log.info("SECRET_KEY was not set: made one and kept it in %s (mode 0600)", path)
    return key
