"""The bot process with a platform out of reach or silent: one sentence naming the address, not a retry loop.

Runs ``python -m bot`` in a subprocess (tests/process_helpers.py); timeouts are deadlines against a hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.process_helpers import (
    WRONG_APP,
    WRONG_DISCORD,
    WRONG_SLACK,
    assert_clean,
    closed_port,
    discord_settings,
    environment,
    problems,
    run,
)


def test_discord_out_of_reach_is_one_sentence_with_every_session_closed(
    openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api/v10"
    env = environment(
        tmp_path,
        openai_fake,
        DISCORD_TOKEN=WRONG_DISCORD,
        DISCORD_API_URL=api_url,
        DISCORD_GATEWAY_URL="ws://127.0.0.1:1/",
    )

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    lines = problems(output)
    assert len(lines) == 2, output
    assert f"Discord cannot be reached at {api_url}" in lines[0] and "DISCORD_API_URL" in lines[0]
    assert_clean(output, WRONG_DISCORD)


def test_a_discord_gateway_out_of_reach_is_one_sentence_not_a_retry_loop(
    discord_fake: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = f"ws://127.0.0.1:{closed_port()}/"
    env = environment(tmp_path, openai_fake, **{**discord_settings(discord_fake), "DISCORD_GATEWAY_URL": gateway})

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    assert any(
        line.endswith(f"Discord's gateway cannot be reached at {gateway}; check the network or DISCORD_GATEWAY_URL.")
        for line in problems(output)
    ), output
    assert_clean(output, discord_fake.bot_token)


@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_a_platform_that_never_answers_is_said_then_given_up_in_one_sentence(
    platform: str, silent_endpoint: str, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    if platform == "discord":
        api_url = f"{silent_endpoint}/api/v10"
        settings = {"DISCORD_TOKEN": WRONG_DISCORD, "DISCORD_API_URL": api_url}
    else:
        api_url = f"{silent_endpoint}/api/"
        settings = {"SLACK_BOT_TOKEN": WRONG_SLACK, "SLACK_APP_TOKEN": WRONG_APP, "SLACK_API_URL": api_url}
    env = environment(tmp_path, openai_fake, PLATFORM_START_TIMEOUT="1", **settings)

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    waiting = [line for line in output.splitlines() if "still waiting for" in line]
    assert len(waiting) == 1 and api_url in waiting[0], output
    assert any(
        line.endswith("; check the network and that address.") and "Gave up after 1 s waiting for" in line
        for line in problems(output)
    ), output
    assert_clean(output, WRONG_DISCORD, WRONG_SLACK, WRONG_APP)


def test_slack_out_of_reach_is_one_sentence_with_every_session_closed(openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api/"
    env = environment(
        tmp_path, openai_fake, SLACK_BOT_TOKEN=WRONG_SLACK, SLACK_APP_TOKEN=WRONG_APP, SLACK_API_URL=api_url
    )

    code, output = run("run", tmp_path, env)

    assert code == 2, output
    lines = problems(output)
    assert len(lines) == 2, output
    assert f"Slack cannot be reached at {api_url}" in lines[0] and "SLACK_API_URL" in lines[0]
    assert_clean(output, WRONG_SLACK, WRONG_APP)
