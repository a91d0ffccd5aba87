"""Slack stricter than documented: the bot learns the real limits from the 429s and nothing goes stale.

Slack does not publish its burst sizes.  Here the fake allows 5 chat.update
calls at once and then fewer a minute than the budget assumes (and 3 stream
starts/stops at once), while the bot keeps to the published tiers: it must
learn the rest from Slack's refusals.  Twenty people write at once; every DM
must end with exactly the answer, as one message or as consecutive parts,
with no streaming marker, no placeholder and no fragment shown twice.

The "minute" of both sides is shortened to 15 seconds to keep the test short.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from adapters.slack.workspace import SlackRateLimits
from core.db.database import Database
from core.llm import OpenAIModel
from tests.e2e.test_slack import MARKER, last_user_text, running, settings_for, slack_chat, words
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack, SlackLimits

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MINUTE = 15.0
# The fake: 5 chat.update at once, then 30 a "minute" (the bot assumes 48); stream starts and stops 3 at once.
STRICT = SlackLimits(update_per_minute=30, update_burst=5, stream_burst=3, append_burst=10, minute=MINUTE)
OURS = SlackRateLimits(period=MINUTE + 0.1)
USERS = 20


def respond_with(answers: dict[str, str]) -> Any:
    def respond(request: dict[str, Any]) -> Reply:
        asked = re.search(r"question \d+", last_user_text(request))
        assert asked is not None
        return Reply.at_rate(answers[asked.group(0)], first_token_after=0.3, words_per_second=40)

    return respond


def settled(fake: FakeSlack, answers: dict[str, str], users: list[str]) -> bool:
    """Every DM shows its answer exactly, in order, with nothing streaming, no marker and no placeholder."""
    for n, user in enumerate(users):
        messages = [m for m in fake.channel_messages(fake.dm_channel(user)) if m.is_bot]
        if any(m.streaming or MARKER in m.text for m in messages):
            return False
        if "".join(m.text for m in messages) != answers[f"question {n}"]:
            return False
    return True


@pytest.mark.parametrize("native", [False, True], ids=["placeholder", "native"])
async def test_twenty_answers_under_a_stricter_slack_all_complete_exactly_with_nothing_stale(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, native: bool
) -> None:
    users = [f"U{n:03d}" for n in range(USERS)]
    answers = {f"question {n}": f"Answer {n}: " + words(90, prefix=f"a{n}w") + "." for n in range(USERS)}
    openai_fake.default = respond_with(answers)
    chat = slack_chat(database, model)
    with FakeSlack(limits=STRICT) as fake:
        settings = settings_for(fake, slack_native_streaming=native)
        async with running(chat, model, fake, settings=settings, limits=OURS) as service:
            for n, user in enumerate(users):
                fake.user_sends_dm(user, f"question {n}")
            await fake.await_for(lambda: settled(fake, answers, users), timeout=90)
            workspace = service.workspaces.get(fake.team_id)

        for n, user in enumerate(users):
            texts = [m.text for m in fake.channel_messages(fake.dm_channel(user)) if m.is_bot]
            assert "".join(texts) == answers[f"question {n}"]
            assert all(t.strip() for t in texts), "no empty or placeholder message is left"
        refused = len(fake.rate_limited)
        if fake.calls("chat.update"):
            assert workspace.update.refusals > 0 or refused == 0
        # It learns: far fewer refusals than answers (each refusal is a lesson, not a habit).
        assert refused <= USERS, [(e.method, round(e.t, 2)) for e in fake.rate_limited]
