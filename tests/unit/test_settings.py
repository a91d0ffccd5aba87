"""Small pure pieces: settings, the allowlist, the calculator, token counts and time stamps."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.__main__ import _settings
from bot.config import Settings
from bot.errors import ConfigError
from core.access import AccessPolicy
from core.db.repositories import UserRecord
from core.llm import ToolCall
from core.timefmt import is_valid_zone, stamp, zone
from core.tokens import TOKENS_PER_MESSAGE, TokenCounter, encoding_name_for
from core.tools.builtin import evaluate
from core.tools.registry import ToolContext, ToolInputError, ToolRegistry
from core.types import PlatformIdentity
from tests.conftest import builtin_tools_for_tests


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting comes from the machine running the tests: no variables, no .env in the working directory."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Settings as the program would read them with these environment variables (and no .env file)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


# -- settings ----------------------------------------------------------------------------


def test_defaults_use_an_embedded_database_in_the_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch)

    assert s.data_dir == Path("data")
    assert s.database_url == "sqlite+aiosqlite:///data/captainslog.db"
    assert s.allowed_accounts == ["terminal:*"]
    assert s.default_timezone == "UTC"
    assert s.openai_api_key is None and s.openai_base_url == "https://api.openai.com/v1"
    assert s.auto_migrate is True
    assert s.models.chat == "gpt-4o-mini"


def test_the_database_follows_data_dir_unless_database_url_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert settings(monkeypatch, DATA_DIR=str(tmp_path / "store")).database_url == (
        f"sqlite+aiosqlite:///{(tmp_path / 'store' / 'captainslog.db').as_posix()}"
    )
    postgres = "postgresql+asyncpg://bot@db.internal/captainslog"
    assert settings(monkeypatch, DATABASE_URL=postgres).database_url == postgres


def test_a_dotenv_file_is_read_from_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_TIMEZONE=Asia/Tokyo\nCHAT_MODEL=gpt-4.1\n", encoding="utf-8")
    monkeypatch.setenv("CHAT_MODEL", "gpt-4o")

    s = Settings()

    assert s.default_timezone == "Asia/Tokyo"
    assert s.chat_model == "gpt-4o", "the environment wins over .env"


def test_an_empty_value_in_dotenv_means_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # `cp .env.example .env` leaves TERMINAL_USER= empty: the name must still default to the login name.
    (tmp_path / ".env").write_text("TERMINAL_USER=\nDEFAULT_TIMEZONE=\nLOG_LEVEL=\n", encoding="utf-8")
    monkeypatch.setattr("getpass.getuser", lambda: "ada")
    read = Settings()
    assert read.terminal_user == "ada"
    assert read.default_timezone == Settings.model_fields["default_timezone"].default
    assert read.log_level == Settings.model_fields["log_level"].default


def test_an_empty_allowlist_is_a_decision_not_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The README: "set ALLOWED_ACCOUNTS= to make the terminal user sign in too".
    (tmp_path / ".env").write_text("ALLOWED_ACCOUNTS=\n", encoding="utf-8")
    assert Settings().allowed_accounts == []
    monkeypatch.setenv("ALLOWED_ACCOUNTS", "")
    assert Settings(_env_file=None).allowed_accounts == []


def test_allowed_accounts_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, ALLOWED_ACCOUNTS=" terminal:* , discord:*:123456,\nslack:T01:U02 ,, ")

    assert s.allowed_accounts == ["terminal:*", "discord:*:123456", "slack:T01:U02"]


def test_an_unknown_time_zone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        settings(monkeypatch, DEFAULT_TIMEZONE="Mars/Olympus")
    assert settings(monkeypatch, DEFAULT_TIMEZONE="Europe/Paris").default_timezone == "Europe/Paris"


def test_the_command_line_names_the_wrong_setting_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("CONTEXT_TOKEN_BUDGET", "10")

    with pytest.raises(ConfigError) as caught:
        _settings()

    message = str(caught.value)
    assert message.startswith("Some settings are wrong: ")
    assert "DEFAULT_TIMEZONE" in message and "CONTEXT_TOKEN_BUDGET" in message
    assert "\n" not in message


def test_no_platform_is_configured_without_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings(monkeypatch).platforms == []
    assert settings(monkeypatch, DISCORD_TOKEN="").platforms == [], "an empty token is no token"


@pytest.mark.parametrize(
    ("env", "platforms"),
    [
        ({"DISCORD_TOKEN": "discord-token"}, ["discord"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, []),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, ["slack"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "http"}, []),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "http", "SLACK_SIGNING_SECRET": "s3cret"}, ["slack"]),
        (
            {"DISCORD_TOKEN": "discord-token", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
            ["discord", "slack"],
        ),
    ],
)
def test_platforms_are_those_whose_credentials_are_complete(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], platforms: list[str]
) -> None:
    assert settings(monkeypatch, **env).platforms == platforms


def test_secrets_never_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, OPENAI_API_KEY="sk-very-secret", DISCORD_TOKEN="discord-very-secret")

    assert "very-secret" not in repr(s) and "very-secret" not in str(s.model_dump())
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-very-secret"


# -- who may talk to the assistant -----------------------------------------------------------


def account(key: str) -> PlatformIdentity:
    platform, workspace, user_id = key.split(":", 2)
    return PlatformIdentity(platform, workspace, user_id)


@pytest.mark.parametrize(
    ("patterns", "allowed", "refused"),
    [
        (["terminal"], ["terminal:local:ada"], ["discord:g1:1"]),
        (["terminal:*"], ["terminal:local:ada", "terminal:other:bob"], ["slack:T1:U1"]),
        (
            ["discord:*:123456"],
            ["discord:guild-a:123456", "discord:@me:123456"],
            ["discord:guild-a:654321", "slack:T1:123456"],
        ),
        (["slack:T01"], ["slack:T01:U1", "slack:T01:U2"], ["slack:T02:U1"]),
        (["slack:T01:U1", " discord:*:42 "], ["slack:T01:U1", "discord:x:42"], ["slack:T01:U2", "discord:x:421"]),
        (["matrix:hs:@ada:example.org"], ["matrix:hs:@ada:example.org"], ["matrix:hs:@bob:example.org"]),
        ([], [], ["terminal:local:ada"]),
        (["", "   "], [], ["terminal:local:ada"]),
    ],
)
def test_allowlist_patterns(patterns: list[str], allowed: list[str], refused: list[str]) -> None:
    policy = AccessPolicy(patterns)

    assert [key for key in allowed if policy.allows(account(key))] == allowed
    assert [key for key in refused if policy.allows(account(key))] == []


# -- the calculator tool -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 3 * 4", 14),
        ("(12.5 * 4) / 3", 50 / 3),
        ("2 ** 10", 1024),
        ("-3 + +1", -2),
        ("17 // 5", 3),
        ("17 % 5", 2),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 2)", 3.14),
        ("factorial(10)", 3_628_800),
        ("log10(1000)", 3.0),
    ],
)
def test_calculator_does_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("__import__('os').system('true')", "unsupported expression element"),
        ("open('/etc/passwd')", "unsupported expression element"),
        ("(1).__class__", "unsupported expression element"),
        ("x + 1", "unsupported expression element"),
        ("'ab' * 3", "unsupported expression element"),
        ("[1, 2][0]", "unsupported expression element"),
        ("True + 1", "unsupported expression element"),
        ("(lambda: 1)()", "unsupported expression element"),
        ("2 ** 100000", "more than 300 digits"),
        ("9 ** 9 ** 9", "more than 300 digits"),
        ("10.0 ** 400", "more than 300 digits"),
        ("factorial(100000)", "more than 300 digits"),
        ("((10 ** 100) ** 3) ** 1000", "more than 300 digits"),
        ("(10 ** 200) * (10 ** 200)", "more than 300 digits"),
        ("1e308 * 10", "too large to represent"),
        ("1 / 0", "division by zero"),
        ("sqrt(-1)", "math domain error"),
        ("exp(1000)", "math range error"),
        ("2 +", "not an arithmetic expression"),
    ],
)
def test_calculator_refuses_anything_else(expression: str, complaint: str) -> None:
    with pytest.raises(ToolInputError, match=complaint):
        evaluate(expression)


def run_calculate(expression: str) -> str:
    """What the model gets back from the calculate tool."""
    context = ToolContext(
        user=UserRecord(1, "Alice", None, {}),
        conversation_id=1,
        now=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        timezone=ZoneInfo("UTC"),
    )
    call = ToolCall("call_1", "calculate", json.dumps({"expression": expression}))
    return asyncio.run(ToolRegistry.of(builtin_tools_for_tests()).run(call, context)).content


def test_calculate_tool_answers_with_the_expression_or_says_what_is_wrong() -> None:
    assert run_calculate("1234 * 5678") == "1234 * 5678 = 7006652"
    assert run_calculate("999999 ** 1000") == "Error: the result has more than 300 digits"
    assert run_calculate("__import__('os')").startswith("Error: unsupported expression element")


@pytest.mark.timeout(10)  # computing it first would take minutes; the timeout turns that into a failure
def test_huge_powers_are_refused_before_they_are_computed() -> None:
    with pytest.raises(ToolInputError, match="more than 300 digits"):
        evaluate("((10 ** 1000) ** 1000) ** 1000")


# -- token counts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("hello world", 2),
        ("Hello, world!", 4),
        ("The quick brown fox jumps over the lazy dog.", 10),
    ],
)
def test_token_counts_are_exact_for_o200k(text: str, tokens: int) -> None:
    counter = TokenCounter("gpt-4o-mini")

    assert counter.encoding_name == "o200k_base"
    assert counter.count(text) == tokens
    assert counter.message(text) == tokens + TOKENS_PER_MESSAGE


def test_each_model_is_counted_with_its_own_encoding() -> None:
    assert encoding_name_for("gpt-4o") == "o200k_base"
    assert encoding_name_for("gpt-4") == "cl100k_base"
    assert encoding_name_for("llama3.1:8b") == "o200k_base", "local models fall back to o200k"
    assert TokenCounter("gpt-4").count("hello world") == 2


# -- time stamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone_name", "expected"),
    [
        (datetime(2026, 11, 24, 13, 3, tzinfo=UTC), "Europe/Paris", "Tue 2026-11-24 14:03 CET"),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "Europe/Paris", "Wed 2026-07-01 14:00 CEST"),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "America/New_York", "Wed 2026-07-01 08:00 EDT"),
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "Asia/Tokyo", "Fri 2027-01-01 08:30 JST"),
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "Europe/London", "Sun 2026-03-29 00:59 GMT"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "Europe/London", "Sun 2026-03-29 02:00 BST"),
    ],
)
def test_stamps_are_local_time_with_the_zone(moment: datetime, zone_name: str, expected: str) -> None:
    assert stamp(moment, ZoneInfo(zone_name)) == expected


def test_unknown_zones_fall_back_to_the_default() -> None:
    assert zone("Mars/Olympus", "Europe/Paris").key == "Europe/Paris"
    assert zone(None).key == "UTC"
    assert zone("Mars/Olympus", "Venus/Maxwell").key == "UTC"
    assert not is_valid_zone("../../etc/passwd") and not is_valid_zone("") and is_valid_zone("Asia/Kolkata")
