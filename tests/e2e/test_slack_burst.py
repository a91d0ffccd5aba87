"""Twenty answers at once on a Slack stricter than documented: a refusal teaches each method its burst.

The fake allows 5 chat.update calls at once (then 50 a "minute"), 3 stream
starts and stops at once and 10 appends at once; the bot keeps to the published
tiers and knows none of that.  Twenty people write at once, twice.  The first
wave may meet one refusal per method (the lesson: Slack publishes no burst
sizes); the second meets at most one more (see the assertions).  Every DM ends showing exactly its answer, with
no streaming marker, no placeholder, nothing streaming and nothing twice.

Both sides' "minute" is 15 seconds to keep the test short.
"""

from __future__ import annotations

from collections import Counter

import pytest

from adapters.slack.workspace import SlackRateLimits
from core.db.database import Database
from core.llm import OpenAIModel
from tests.e2e.test_slack import running, settings_for, slack_chat, words
from tests.e2e.test_slack_strict import respond_with, settled
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, SlackLimits

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MINUTE = 15.0
STRICT = SlackLimits.strict(minute=MINUTE)
OURS = SlackRateLimits(period=MINUTE + 0.1)
USERS = 20


@pytest.mark.parametrize("native", [False, True], ids=["placeholder", "native"])
async def test_a_stricter_slack_teaches_the_bot_each_burst_and_every_answer_ends_exact(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, native: bool
) -> None:
    answers = {f"question {n}": f"Answer {n}: " + words(90, prefix=f"a{n}w") + "." for n in range(2 * USERS)}
    openai_fake.default = respond_with(answers)
    chat = slack_chat(database, model)
    with FakeSlack(limits=STRICT) as fake:
        settings = settings_for(fake, slack_native_streaming=native)
        async with running(chat, model, fake, settings=settings, limits=OURS):
            first = [f"U{n:03d}" for n in range(USERS)]
            for n, user in enumerate(first):
                fake.user_sends_dm(user, f"question {n}")
            await fake.await_for(lambda: settled(fake, answers, first), timeout=90)
            lessons = Counter(e.method for e in fake.rate_limited)

            second = [f"U{n:03d}" for n in range(USERS, 2 * USERS)]
            for n, user in enumerate(second, start=USERS):
                fake.user_sends_dm(user, f"question {n}")
            await fake.await_for(lambda: settled(fake, answers, first + second), timeout=90)
            again = Counter(e.method for e in fake.rate_limited) - lessons

    assert all(count == 1 for count in lessons.values()), f"one refusal per method teaches it: {lessons}"
    # A method the first wave never pushed past its burst may meet its first refusal in the second. On a
    # starved test machine the fake can also see calls sent apart arrive together (its thread waited for a
    # CPU), which costs one more lesson at most; a bot that did not learn meets a dozen refusals a wave.
    assert all(count <= 1 for count in again.values()), f"refused more than once after the lesson: {again}"
    assert all(count <= 2 for count in (lessons + again).values()), f"the refusals stop: {lessons + again}"
    for n, user in enumerate(first + second):
        texts = [m.text for m in fake.channel_messages(fake.dm_channel(user)) if m.is_bot]
        assert "".join(texts) == answers[f"question {n}"]
        assert all(t.strip() for t in texts), "no empty or placeholder message is left"
