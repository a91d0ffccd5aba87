"""SECRET_KEY strength and PUBLIC_URL form, as refused at start and by doctor (bot/web_checks.py)."""

from __future__ import annotations

import secrets

import pytest

from bot.config import Settings
from bot.web_checks import MAKE_ONE, key_problem, public_url_problem, web_problems


@pytest.mark.parametrize("key", ["x", "short", "a" * 40, "ab" * 20, "0123456789" * 3])
def test_weak_keys_are_refused_with_how_to_make_a_good_one(key: str) -> None:
    problem = key_problem(key)
    assert problem is not None and problem.startswith("SECRET_KEY ")
    assert MAKE_ONE in problem and key not in problem.replace("SECRET_KEY", "")


@pytest.mark.parametrize(
    "key",
    [secrets.token_urlsafe(48), secrets.token_hex(16), "test-secret-key-0123456789-abcdefghijkl"],
    ids=["token_urlsafe", "token_hex", "fixed"],  # random values would name the tests differently each run
)
def test_random_keys_pass(key: str) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize("url", ["bot.example.org", "ftp://bot.example.org", "https://", "/settings", "http:bot"])
def test_a_public_url_must_be_an_absolute_http_address(url: str) -> None:
    problem = public_url_problem(url)
    assert problem is not None and f"PUBLIC_URL={url} is not an absolute http(s) address" in problem


@pytest.mark.parametrize("url", ["", "https://bot.example.org", "http://127.0.0.1:8080/", "https://x.org/bot"])
def test_good_public_urls_pass(url: str) -> None:
    assert public_url_problem(url) is None


def test_checked_whenever_the_web_server_is_on_google_or_not() -> None:
    base = {"openai_api_key": "sk-test", "allowed_emails": []}
    # The settings page alone (SECRET_KEY set, no Google) runs the web server: both are checked.
    page_only = Settings(_env_file=None, secret_key="short", public_url="bot.example.org", **base)  # type: ignore[call-arg]
    problems = web_problems(page_only)
    assert len(problems) == 2 and "SECRET_KEY is only 5 characters" in problems[0] and "PUBLIC_URL" in problems[1]
    # No web server at all: nothing to check.
    off = Settings(_env_file=None, public_url="bot.example.org", **base)  # type: ignore[call-arg]
    assert web_problems(off) == []
