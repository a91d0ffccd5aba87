"""The daily log exactly once although the bot was killed after a post and Discord forgot its nonce.

Discord keeps a post's nonce a few minutes; a restart after that cannot rely on it, and the restarted bot
finds the accepted text or PDF by reading Ada's DM back. She has exactly one post of her day, the text and
its PDF (tests/daily_kill_helpers.py).
"""

from __future__ import annotations

import pytest

from tests.daily_kill_helpers import Restart, a_killed_day_arrives_once_and_complete


@pytest.mark.parametrize(
    "boundary",
    [
        pytest.param("text", id="after-the-text-post-nonce-forgotten"),
        pytest.param("file", id="after-the-file-post-nonce-forgotten"),
    ],
)
async def test_a_day_killed_after_a_post_whose_nonce_discord_forgot_arrives_once_and_complete(
    boundary: str, restart: Restart
) -> None:
    await a_killed_day_arrives_once_and_complete(restart, boundary, with_drive=False, nonce_forgotten=True)
