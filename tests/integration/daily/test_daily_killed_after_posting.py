"""The daily log exactly once although the bot is killed (SIGKILL) right after Discord accepted a post.

The bot dies after Discord accepted the text (with the Drive link, or before its PDF) or the PDF, and
before the database recorded it. Discord still remembers the post's nonce at the restart, a minute later,
so the repeated post is the same message. Ada has exactly one post of her day, complete
(tests/daily_kill_helpers.py).
"""

from __future__ import annotations

import pytest

from tests.daily_kill_helpers import Restart, a_killed_day_arrives_once_and_complete


@pytest.mark.parametrize(
    ("boundary", "with_drive"),
    [
        pytest.param("text", True, id="after-the-text-post-with-drive-link"),
        pytest.param("text", False, id="after-the-text-post-before-the-pdf"),
        pytest.param("file", False, id="after-the-file-post"),
    ],
)
async def test_a_day_killed_after_a_post_arrives_once_and_complete_a_minute_after_the_restart(
    boundary: str, with_drive: bool, restart: Restart
) -> None:
    await a_killed_day_arrives_once_and_complete(restart, boundary, with_drive=with_drive)
