"""The bot process stopped (SIGTERM, SIGINT) while a platform hangs at start: it ends, and no platform waits on another.

Runs ``python -m bot`` in a subprocess (tests/process_helpers.py); timeouts are deadlines against a hang.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack
from tests.process_helpers import (
    SilentServer,
    assert_clean,
    environment,
    finish,
    hanging_discord_settings,
    hanging_slack_settings,
    problems,
    slack_settings,
    start,
    wait_until,
)


def test_a_hanging_platform_delays_no_other_and_a_stop_signal_during_its_start_ends_the_process(
    slack_fake: FakeSlack, silent: SilentServer, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, **hanging_discord_settings(silent), **slack_settings(slack_fake))
    process = start("run", tmp_path, env)
    try:
        wait_until(lambda: silent.connections, process)  # Discord's login hangs from here on
        wait_until(lambda: slack_fake.connected_clients(), process)
        slack_fake.user_sends_dm("U1", "are you up?")
        answer = wait_until(
            lambda: [t for t in slack_fake.texts(slack_fake.dm_channel("U1")) if "▌" not in t and t], process
        )
        assert answer[-1].endswith("are you up?")
        assert process.poll() is None
    finally:
        output = finish(process, signal_to_send=signal.SIGTERM)

    assert process.returncode == 0, output
    assert "discord still starting" in output, output
    assert problems(output) == [], output
    assert_clean(output, slack_fake.bot_token, slack_fake.app_token)


def test_sigint_while_every_platform_hangs_at_start_ends_the_process(
    silent: SilentServer, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    env = environment(tmp_path, openai_fake, **hanging_discord_settings(silent), **hanging_slack_settings(silent))
    process = start("run", tmp_path, env)
    wait_until(lambda: len(silent.connections) >= 2, process)  # both logins are waiting for an answer

    output = finish(process, signal_to_send=signal.SIGINT)

    assert process.returncode == 0, output
    assert problems(output) == [], output
    assert_clean(output, "a-token", "xoxb-token")
