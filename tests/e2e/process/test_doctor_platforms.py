"""``captainslog doctor`` asks each chat platform: it names the refused tokens and says which are accepted.

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
    assert_clean,
    discord_settings,
    environment,
    run,
    slack_settings,
)


def test_doctor_asks_each_platform_and_names_the_refused_tokens(
    discord_fake: FakeDiscord, slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(
        tmp_path,
        openai_fake,
        **discord_settings(discord_fake, token=WRONG_DISCORD),
        **slack_settings(slack_fake, app_token=WRONG_APP),
    )

    code, output = run("doctor", tmp_path, env)

    assert code == 1, output
    lines = output.splitlines()
    database = (tmp_path / "data" / "captainslog.db").resolve()
    assert f"✓ no database yet at {database}: it is created at first start" in lines, output
    failed = [line for line in lines if line.startswith("✗ ")]
    assert len(failed) == 2, output
    assert failed[0].startswith("✗ Discord refused the token in DISCORD_TOKEN")
    assert failed[1].startswith("✗ Slack refused the token in SLACK_APP_TOKEN (invalid_auth)")
    assert "✓ Slack accepts SLACK_BOT_TOKEN (workspace Fake Workspace)" in lines
    assert len(slack_fake.calls("auth.test")) == 1 and len(slack_fake.calls("apps.connections.open")) == 1
    assert [e.path for e in discord_fake.log] == ["/users/@me"]
    assert_clean(output, WRONG_DISCORD, WRONG_APP, slack_fake.bot_token)


def test_doctor_says_the_platforms_accept_good_tokens(
    discord_fake: FakeDiscord, slack_fake: FakeSlack, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, **discord_settings(discord_fake), **slack_settings(slack_fake))

    code, output = run("doctor", tmp_path, env)

    assert code == 0, output
    lines = output.splitlines()
    assert "✓ Discord accepts DISCORD_TOKEN (bot CaptainsLog)" in lines
    assert "✓ Slack accepts SLACK_APP_TOKEN (Socket Mode)" in lines
    assert_clean(output, discord_fake.bot_token, slack_fake.bot_token, slack_fake.app_token)
