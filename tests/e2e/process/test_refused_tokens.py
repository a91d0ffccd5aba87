"""The bot process with a token the platform refuses: one line saying which, and the rest keeps serving.

Runs ``python -m bot`` in a subprocess (tests/process_helpers.py); timeouts are deadlines against a hang.
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.process_helpers import (
    WRONG_APP,
    WRONG_DISCORD,
    WRONG_SLACK,
    assert_clean,
    discord_answer,
    discord_settings,
    environment,
    finish,
    problems,
    run,
    slack_settings,
    start,
    wait_until,
)


def _run_refused(tmp_path: Path, openai_fake: FakeOpenAI, **settings: str) -> tuple[list[str], str]:
    """Run the bot whose every platform refuses its token: it ends (code 2), its last problem line saying
    that no platform could start. Its problem lines, and its whole output."""
    env = environment(tmp_path, openai_fake, **settings)
    code, output = run("run", tmp_path, env)
    assert code == 2, output
    lines = problems(output)
    assert lines[-1] == "captainslog: No chat platform could start; the reason is in the line(s) above.", output
    return lines, output


def test_a_refused_slack_bot_token_is_one_line_and_discord_keeps_serving(
    discord_fake: FakeDiscord, slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(
        tmp_path, openai_fake, **discord_settings(discord_fake), **slack_settings(slack_fake, bot_token=WRONG_SLACK)
    )
    process = start("run", tmp_path, env)
    try:
        wait_until(lambda: slack_fake.calls("auth.test"), process)
        alice = discord_fake.add_user(name="alice")["id"]
        wait_until(lambda: discord_fake.registered_commands.get("global"), process)
        discord_fake.user_sends_dm(alice, "still there?")
        answer = wait_until(lambda: discord_answer(discord_fake, alice), process)
    finally:
        output = finish(process)

    assert answer == "You said: still there?" or answer.endswith("still there?"), answer
    assert process.returncode == 0, output
    slack_lines = [line for line in problems(output) if "SLACK_BOT_TOKEN" in line]
    assert len(slack_lines) == 1, output
    assert "invalid_auth" in slack_lines[0]
    assert [line for line in problems(output) if "slack" in line.lower()] == slack_lines, output
    assert len(slack_fake.calls("auth.test")) == 1, "a refused token is asked once, never retried"
    assert not slack_fake.calls("apps.connections.open"), "nothing more is tried with a refused bot token"
    assert_clean(output, WRONG_SLACK, discord_fake.bot_token)


def test_a_refused_slack_app_token_alone_ends_the_process_with_one_sentence(
    slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    lines, output = _run_refused(tmp_path, openai_fake, **slack_settings(slack_fake, app_token=WRONG_APP))

    assert len([line for line in lines if "SLACK_APP_TOKEN" in line]) == 1, output
    assert len(slack_fake.calls("apps.connections.open")) == 1, "a refused app token is asked once"
    assert_clean(output, WRONG_APP, slack_fake.bot_token)


def test_a_refused_discord_token_is_one_sentence_with_every_session_closed(
    discord_fake: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    lines, output = _run_refused(tmp_path, openai_fake, **discord_settings(discord_fake, token=WRONG_DISCORD))

    assert len(lines) == 2, output
    assert "Discord refused the token in DISCORD_TOKEN (401 Unauthorized)" in lines[0]
    assert_clean(output, WRONG_DISCORD)
