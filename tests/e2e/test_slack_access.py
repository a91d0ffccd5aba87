"""Who Slack lets in, end to end (real slack-bolt against the Slack fake, real core, real database).

The workspace of an account is the author's own team (``user_team``), never the
app's installation; access is decided before any work; a stranger hears the
refusal once per window and is ignored after that; and what the security review
found sound stays so (escaped output, edits touching only the author's messages).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from adapters.slack.mapping import thread_ref
from core.chat import REFUSAL
from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from core.types import ConversationRef
from tests.conftest import TEST_NOW
from tests.e2e.test_slack import (
    TEAM,
    bot_texts,
    eventually,
    final_texts,
    plain_echo,
    running,
    slack_chat,
    sqlite_only,
)
from tests.fakes.openai_server import PNG_BYTES, FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack

pytestmark = sqlite_only
NOTE = f"_{REFUSAL}_"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _plain_echo(openai_fake: FakeOpenAI) -> None:
    openai_fake.default = plain_echo


async def settle() -> None:
    """Give events that should be ignored the time they would need to be answered."""
    await asyncio.sleep(0.4)


async def test_a_team_pattern_lets_in_only_members_of_that_team(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    slack.user_teams["U_GUEST"] = "T_OTHER_ORG"  # a Slack Connect guest in our workspace's DM
    slack.user_teams["U_NOTEAM"] = None  # an event that does not say the author's team…
    slack.set_user("U_NOTEAM", team_id="T_OTHER_ORG")  # …whose users.info names another org
    chat = slack_chat(database, model, allowed=(f"slack:{TEAM}:*",))
    async with running(chat, model, slack):
        slack.user_sends_dm("U1", "hello")
        assert await final_texts(slack, slack.dm_channel("U1")) == ["You said: hello"]
        slack.user_sends_dm("U_GUEST", "let me in")
        slack.user_sends_dm("U_NOTEAM", "me too")
        assert await final_texts(slack, slack.dm_channel("U_GUEST")) == [NOTE]
        assert await final_texts(slack, slack.dm_channel("U_NOTEAM")) == [NOTE]
        slack.slash_command("U_GUEST", "/help")
        [post] = await slack.await_for(lambda: slack.response_url_posts)
    assert post.body["text"] == REFUSAL and post.body["response_type"] == "ephemeral"
    assert len(openai_fake.chat_requests()) == 1


async def test_a_user_id_pattern_still_lets_in_a_guest_of_another_team(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    slack.user_teams["U_GUEST"] = "T_OTHER_ORG"
    slack.user_teams["U_NOTEAM"] = None
    chat = slack_chat(database, model, allowed=(f"slack:{TEAM}:*", "slack:*:U_GUEST", "slack:*:U_NOTEAM"))
    async with running(chat, model, slack):
        slack.user_sends_dm("U_GUEST", "hello from elsewhere")
        slack.user_sends_dm("U_NOTEAM", "hello from nowhere")
        assert await final_texts(slack, slack.dm_channel("U_GUEST")) == ["You said: hello from elsewhere"]
        assert await final_texts(slack, slack.dm_channel("U_NOTEAM")) == ["You said: hello from nowhere"]


async def test_a_message_event_without_its_authors_team_is_the_same_account_as_their_commands(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    """Some payloads (edits) carry no ``user_team``: the author's team is learned once from users.info, so
    one person stays one account (one history) and their own team still decides access."""
    slack.user_teams["U_NOTEAM"] = None  # a member of our team whose events do not say so
    chat = slack_chat(database, model, allowed=(f"slack:{TEAM}:*",))
    async with running(chat, model, slack):
        slack.user_sends_dm("U_NOTEAM", "hello")
        slack.user_sends_dm("U_NOTEAM", "still me")
        assert await final_texts(slack, slack.dm_channel("U_NOTEAM"), count=2) == [
            "You said: hello",
            "You said: still me",
        ]
        slack.slash_command("U_NOTEAM", "/help")
        [post] = await slack.await_for(lambda: slack.response_url_posts)
    assert post.body["text"] != REFUSAL
    async with database.engine.connect() as conn:
        accounts = (
            await conn.execute(text("SELECT workspace FROM identities WHERE platform_user_id = 'U_NOTEAM'"))
        ).all()
    assert [a.workspace for a in accounts] == [TEAM], "one account, not slack::U_NOTEAM beside slack:T…:U_NOTEAM"
    assert len(slack.calls("users.info")) == 1, "the team (and name) is asked once per member"


async def test_a_stranger_is_refused_once_per_window_then_ignored(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    clock = ManualClock(TEST_NOW)
    chat = slack_chat(database, model, allowed=("slack:*:U_ALLOWED",), clock=clock)
    channel = slack.dm_channel("U_OTHER")
    async with running(chat, model, slack):
        slack.user_sends_dm("U_OTHER", "let me in")
        assert await final_texts(slack, channel) == [NOTE]
        for n in range(5):
            slack.user_sends_dm("U_OTHER", f"please {n}", files=[("photo.png", PNG_BYTES, "image/png")])
        slack.user_sends_dm("U_ALLOWED", "hello")
        assert await final_texts(slack, slack.dm_channel("U_ALLOWED")) == ["You said: hello"]
        await settle()
        assert bot_texts(slack, channel) == [NOTE], "one refusal, then silence"
        assert slack.downloads == [], "a stranger's files are never fetched"

        clock.advance(minutes=11)
        slack.user_sends_dm("U_OTHER", "and now?")
        assert await final_texts(slack, channel, count=2) == [NOTE, NOTE]
    assert len(openai_fake.chat_requests()) == 1
    assert [e.channel for e in slack.calls("chat.postMessage")].count(channel) == 2


async def test_a_strangers_mention_registers_no_thread_and_is_refused_only_to_them(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    chat = slack_chat(database, model, allowed=("slack:*:U_ALLOWED",))
    async with running(chat, model, slack):
        mention = slack.user_mentions_bot("C100", "U_OTHER", "summarise this channel")
        await slack.await_for(lambda: slack.ephemerals)
        # An allowed colleague replies in that thread without mentioning the bot: not a conversation.
        slack.user_sends_in_thread("C100", "U_ALLOWED", "what did they ask?", thread_ts=mention["ts"])
        await settle()
    assert bot_texts(slack, "C100") == [], "nothing public: the refusal may carry a sign-in link"
    [ephemeral] = slack.ephemerals
    assert ephemeral["user"] == "U_OTHER" and ephemeral["thread_ts"] == mention["ts"]
    assert ephemeral["text"] == NOTE
    assert not await chat.has_conversation(thread_ref(TEAM, "C100", mention["ts"]))
    assert openai_fake.chat_requests() == []


async def test_output_escapes_slack_control_characters(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    openai_fake.queue(Reply("Tell <!channel> that 1 < 2 & <@U2> is > all"))
    chat = slack_chat(database, model)
    async with running(chat, model, slack):
        slack.user_sends_dm("U1", "go")
        [text] = await final_texts(slack, slack.dm_channel("U1"))
    assert text == "Tell &lt;!channel&gt; that 1 &lt; 2 &amp; &lt;@U2&gt; is &gt; all"


async def test_an_edit_in_a_shared_thread_changes_only_its_authors_message(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI, slack: FakeSlack
) -> None:
    chat = slack_chat(database, model)
    async with running(chat, model, slack):
        mention = slack.user_mentions_bot("C100", "U1", "alice's question")
        await slack.await_for(lambda: "You said: alice's question" in bot_texts(slack, "C100"))
        bob = slack.user_sends_in_thread("C100", "U2", "bob's remark", thread_ts=mention["ts"])
        await slack.await_for(lambda: "You said: bob's remark" in bot_texts(slack, "C100"))
        ref = ConversationRef("slack", TEAM, "C100", mention["ts"])
        slack.user_edits("C100", bob["ts"], "bob's remark, edited")

        async def edited() -> list[str]:
            contents = [m.content for m in await chat.history(ref) if m.role == "user"]
            return contents if "bob's remark, edited" in contents else []

        contents = await eventually(edited)
    assert contents == ["alice's question", "bob's remark, edited"]
