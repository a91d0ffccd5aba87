"""`SECRET_KEY=short PUBLIC_URL=bot.example.org` is refused by `doctor` and at start (issue 23), Google or not."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_doctor import report, run
from tests.fakes.openai_server import FakeOpenAI

KEY = "SECRET_KEY is only 5 characters long (at least 32 are needed): set it to the line this prints: "
URL = "PUBLIC_URL=bot.example.org is not an absolute http(s) address: links in DMs are built from it."


def test_doctor_names_a_weak_key_and_a_public_url_without_its_scheme(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    result = run("doctor", tmp_path, openai_fake, SECRET_KEY="short", PUBLIC_URL="bot.example.org")
    failed = [line for line in report(result) if line.startswith("✗ ")]
    assert any(line.startswith("✗ " + KEY) and "secrets.token_urlsafe(48)" in line for line in failed), failed
    assert any(line.startswith("✗ " + URL) for line in failed), failed
    assert result.returncode == 1


def test_the_start_refuses_them_with_the_same_sentences(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    result = run("chat", tmp_path, openai_fake, lines="hello\n", SECRET_KEY="short", PUBLIC_URL="bot.example.org")
    said = result.stdout + result.stderr
    assert result.returncode != 0 and KEY in said and URL in said, said
    assert "You said" not in said and "Traceback" not in said


def test_a_sound_key_and_url_start(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    good = "q0xT3_e9PzLr-8vKcW2mYbN5uHsJdA7fGiO4"
    result = run("doctor", tmp_path, openai_fake, SECRET_KEY=good, PUBLIC_URL="https://bot.example.org")
    assert "✓ web server settings are sound (links start with https://bot.example.org)" in report(result)
