"""A call the platform carried out but whose answer the network lost is not repeated visibly.

The fakes accept the call and then drop the connection before answering, as a
network timeout would.  The bot tries again; the user must still see the
answer once: Discord dedupes the retried post by its nonce, and on Slack the
bot finds its own post (or its appended text) before sending it again.
"""

from __future__ import annotations

import pytest

from core.db.database import Database
from core.llm import OpenAIModel
from tests.e2e.test_discord import MARKER, Bot, dm, start_bot
from tests.e2e.test_discord import fake_discord as fake_discord  # noqa: F401 - the fixture
from tests.e2e.test_slack import running, settings_for, slack_chat, words
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
async def test_discord_a_post_whose_answer_was_lost_is_shown_once(
    fake_discord: FakeDiscord, database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    bot: Bot = await start_bot(fake_discord, database, model)
    try:
        user = fake_discord.add_user(name="ann")["id"]
        openai_fake.queue(Reply("Just once, please."))
        fake_discord.drop_connection_after("messages.create")

        channel = dm(fake_discord, user, "hello")
        assert await bot.answer_in(channel) == ["Just once, please."]
        assert bot.bot_texts(channel) == ["Just once, please."], "one message, not a placeholder twice"
        posts = [e for e in fake_discord.log if e.route == "messages.create" and e.channel_id == channel]
        assert len(posts) == 2, "the post was tried again after the connection dropped"
    finally:
        await bot.service.stop()


@sqlite_only
async def test_slack_a_post_whose_answer_was_lost_is_found_not_posted_again(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    openai_fake.queue(Reply("Just once, please."))
    chat = slack_chat(database, model)
    with FakeSlack() as slack:
        slack.drop_connection_after("chat.postMessage")
        async with running(chat, model, slack):
            slack.user_sends_dm("U1", "hello")
            channel = slack.dm_channel("U1")
            await slack.await_for(
                lambda: (t := slack.texts(channel)) and all(MARKER not in x for x in t) and t, timeout=10
            )
            texts = slack.texts(channel)
        assert texts == ["Just once, please."]
        assert len(slack.calls("chat.postMessage")) == 1, "found through conversations.history, not posted again"
        assert slack.calls("conversations.history")


async def stream_with_a_lost_answer(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, method: str, answer: str
) -> tuple[FakeSlack, list[str]]:
    """A natively streamed answer whose first ``method`` call took effect but lost its answer; the DM's bot texts."""
    openai_fake.queue(Reply.at_rate(answer, first_token_after=0.1, words_per_second=60))
    chat = slack_chat(database, model)
    with FakeSlack() as slack:
        slack.drop_connection_after(method)
        settings = settings_for(slack, slack_native_streaming=True)
        async with running(chat, model, slack, settings=settings):
            slack.user_sends_dm("U1", "stream it")
            channel = slack.dm_channel("U1")
            await slack.await_for(lambda: slack.calls("chat.stopStream"), timeout=15)
            return slack, [m.text for m in slack.channel_messages(channel) if m.is_bot]


@sqlite_only
async def test_slack_native_an_append_whose_answer_was_lost_is_not_appended_twice(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    answer = "Streamed once: " + words(80)
    slack, shown = await stream_with_a_lost_answer(database, model, openai_fake, "chat.appendStream", answer)

    assert shown == [answer]
    appends = slack.calls("chat.appendStream")
    assert appends and not appends[0].error, "the first append took effect though its answer was lost"
    assert slack.calls("conversations.replies"), "the bot read the message back before appending again"


@sqlite_only
async def test_slack_native_a_start_whose_answer_was_lost_is_continued_not_started_again(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    answer = "Started once: " + words(80)
    slack, shown = await stream_with_a_lost_answer(database, model, openai_fake, "chat.startStream", answer)

    assert shown == [answer]
    assert len(slack.calls("chat.startStream")) == 1, "found in the thread, not started a second time"
    assert slack.calls("conversations.replies")
