"""A slash command's file on a Slack that refuses an upload with a rate limit: the upload waits its turn and
is tried again (a refusal created nothing), so each image arrives once, with its comment."""

from __future__ import annotations

import pytest

from core.db.database import Database
from core.llm import OpenAIModel
from tests.e2e.test_slack import running, slack_chat
from tests.fakes.openai_server import PNG_BYTES, FakeOpenAI
from tests.fakes.slack_server import FakeSlack, SlackLimits

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_an_upload_refused_with_a_rate_limit_is_tried_again_and_shared_once(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    # One upload per 2 seconds: stricter than the tier the bot keeps to, so the second is refused once.
    strict = SlackLimits(upload_per_minute=1, minute=2.0)
    chat = slack_chat(database, model)
    with FakeSlack(limits=strict) as slack:
        async with running(chat, model, slack):
            first = slack.slash_command("U1", "/image", "a lighthouse at dawn")
            second = slack.slash_command("U1", "/image", "a harbour at night")
            await slack.await_ack(first)
            await slack.await_ack(second)
            uploads = await slack.await_for(lambda: slack.uploads if len(slack.uploads) == 2 else None, timeout=30)
            refused = [e.method for e in slack.rate_limited]

    assert refused == ["files.getUploadURLExternal"], "the fake refused the second upload once"
    assert sorted(u.initial_comment or "" for u in uploads) == [
        "Here is “a harbour at night”.",
        "Here is “a lighthouse at dawn”.",
    ]
    assert all(u.content == PNG_BYTES and u.channel == slack.dm_channel("U1") for u in uploads)
    said = [e.text or "" for e in slack.log if e.method == "chat.postMessage"]
    assert not any("could not share" in text for text in said), said
