"""Settings the web server depends on, checked at start and by `doctor`: SECRET_KEY's strength, PUBLIC_URL's form.

SECRET_KEY encrypts the Google tokens and signs the settings sessions, so a guessable one
("x", "short", forty times the same letter) is refused. Its strength is estimated from its
length and the spread of its characters (Shannon entropy times length); a key printed by
``secrets.token_urlsafe(48)`` has about 330 bits, a 32-character hex key about 110.
"""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import urlsplit

from bot.config import Settings

MIN_KEY_LENGTH = 32
MIN_KEY_BITS = 100
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def estimated_bits(key: str) -> float:
    """A rough strength estimate: the entropy of the key's character distribution times its length."""
    if not key:
        return 0.0
    counts, n = Counter(key), len(key)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) * n


def key_problem(key: str) -> str | None:
    """Why ``key`` is too weak for SECRET_KEY (one sentence with how to make a good one), or None."""
    if len(key) < MIN_KEY_LENGTH:
        why = f"is only {len(key)} characters long (at least {MIN_KEY_LENGTH} are needed)"
    elif estimated_bits(key) < MIN_KEY_BITS:
        why = "is too easy to guess (too few different characters)"
    else:
        return None
    return f"SECRET_KEY {why}: set it to the line this prints: {MAKE_ONE}"


def public_url_problem(url: str) -> str | None:
    """Why PUBLIC_URL cannot start the links in DMs (not an absolute http(s) URL), or None."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") and parts.hostname and not parts.query and not parts.fragment:
        return None
    return (
        f"PUBLIC_URL={url} is not an absolute http(s) address: links in DMs are built from it. "
        "Write it with its scheme, e.g. PUBLIC_URL=https://bot.example.org"
    )


def web_server_on(settings: Settings) -> bool:
    """Whether `run` starts the web server (Google sign-in, the settings page, or Slack's HTTP mode)."""
    page = settings.secret_key is not None and bool(settings.secret_key.get_secret_value())
    slack_http = settings.slack_configured and settings.slack_mode == "http"
    return settings.google_configured or page or slack_http


def web_problems(settings: Settings) -> list[str]:
    """What is wrong with SECRET_KEY and PUBLIC_URL, when the web server is on (empty when all is well)."""
    if not web_server_on(settings):
        return []
    problems = []
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if key and (problem := key_problem(key)):
        problems.append(problem)
    if problem := public_url_problem(settings.public_url):
        problems.append(problem)
    return problems
