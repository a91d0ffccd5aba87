"""The daily log exactly once although the bot is killed (SIGKILL) before anything reached Discord.

The bot dies right after the model answered, the PDF was made, or Drive stored the file, and before the
database recorded it. A restarted bot takes the day over a minute later (the dead process's claim runs
out) and Ada has exactly one post of her day, with the Drive link (tests/daily_kill_helpers.py).
"""

from __future__ import annotations

import pytest

from tests.daily_kill_helpers import Restart, a_killed_day_arrives_once_and_complete


@pytest.mark.parametrize(
    "boundary",
    [
        pytest.param("summary", id="after-the-summary"),
        pytest.param("render", id="after-the-render"),
        pytest.param("upload", id="after-the-upload"),
    ],
)
async def test_a_day_killed_before_posting_arrives_once_and_complete_a_minute_after_the_restart(
    boundary: str, restart: Restart
) -> None:
    await a_killed_day_arrives_once_and_complete(restart, boundary, with_drive=True)
