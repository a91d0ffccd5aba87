"""The settings template a new user copies names every setting, and only real ones."""

import re
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _setting_names() -> set[str]:
    return {(field.alias or name).upper() for name, field in Settings.model_fields.items()}


def _template_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_env_example_names_every_setting() -> None:
    assert _setting_names() - _template_names() == set()


def test_env_example_names_no_setting_that_does_not_exist() -> None:
    assert _template_names() - _setting_names() == set()


def test_env_example_says_first_which_settings_are_needed() -> None:
    head = (ROOT / ".env.example").read_text().split("\n\n# ---", 1)[0]
    needed = set(re.findall(r"\b([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)\b", head))
    assert {"OPENAI_API_KEY", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SECRET_KEY"} <= needed
    assert needed <= _setting_names(), f"the header names settings that do not exist: {needed - _setting_names()}"
    assert "OPTIONAL" in head
