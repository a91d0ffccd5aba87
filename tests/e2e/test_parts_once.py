"""A scheduled post's part (a text, a file) posted once on Discord and on Slack, whatever an earlier try did.

The real messengers (discord.py, slack_sdk) against the loopback fakes. An earlier
try that may have reached the platform is given as ``earlier_try``: what it posted
is read back (Slack by the key in the message metadata, Discord by the bot's own
messages, after Discord has forgotten the nonce) and only what is missing is sent.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from adapters.discord import DiscordService
from adapters.slack import SlackService
from core.clock import ManualClock
from core.daily.job import DayOutcome
from core.db.database import Database
from core.db.models import Identity
from core.llm import OpenAIModel
from core.messenger import DeliveryError, Outbox
from core.outbound import OutboundPart, PartMessenger
from core.types import PlatformIdentity
from tests.daily_helpers import EPOCH, People, daily_process
from tests.daily_kill_helpers import stopped_at_a_part
from tests.e2e.test_messenger import (  # noqa: F401 - fixtures
    TEAM,
    Directory,
    bot_messages,
    discord_account,
    discord_limits,
    discord_outbox,
    fake_discord,
    paragraphs,
    pdf,
    slack,
    slack_limits,
    slack_outbox,
)
from tests.fakes import discord_server
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_server import FakeSlack
from tests.integration.daily.test_daily_log import DAY, SUMMARY, paris

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

KEY = "5f0c3a9d2b7e41c8a6d4f1e0b9c8a7d6"
EARLIER: datetime = EPOCH  # when the earlier try began (the fakes keep every message)


def _messenger(outbox: Outbox, platform: str) -> PartMessenger:
    messenger = outbox.messenger(platform)
    assert isinstance(messenger, PartMessenger)
    return messenger


async def test_a_slack_text_an_earlier_try_half_posted_is_completed_not_repeated(
    slack: FakeSlack,  # noqa: F811
    slack_outbox: tuple[Outbox, Directory, SlackService],  # noqa: F811
) -> None:
    outbox, _, _ = slack_outbox
    messenger = _messenger(outbox, "slack")
    account = PlatformIdentity("slack", TEAM, "U1")
    text = paragraphs(24)
    part = OutboundPart(KEY, text=text)
    first = await messenger.send_part(account, part)
    channel = first.conversation.channel
    assert len(first.message_ids) >= 3 and "".join(slack.texts(channel)) == text
    for ts in first.message_ids[1:]:  # the earlier try got only its first message out
        await messenger.client.chat_delete(channel=channel, ts=ts)  # type: ignore[attr-defined]

    again = await messenger.send_part(account, part, earlier_try=EARLIER)

    assert "".join(slack.texts(channel)) == text, "each piece once, in order"
    assert again.message_ids[0] == first.message_ids[0] and len(again.message_ids) == len(first.message_ids)
    assert await messenger.send_part(account, part, earlier_try=EARLIER) == again  # all there: nothing sent
    assert "".join(slack.texts(channel)) == text


async def test_a_slack_file_an_earlier_try_uploaded_is_not_uploaded_again(
    slack: FakeSlack,  # noqa: F811
    slack_outbox: tuple[Outbox, Directory, SlackService],  # noqa: F811
) -> None:
    outbox, _, _ = slack_outbox
    messenger = _messenger(outbox, "slack")
    account = PlatformIdentity("slack", TEAM, "U1")
    part = OutboundPart(KEY, file=pdf("2026-11-24 CaptainsLog.pdf"))
    await messenger.send_part(account, part)

    await messenger.send_part(account, part, earlier_try=EARLIER)

    assert [u.filename for u in slack.uploads] == ["2026-11-24 CaptainsLog.pdf"]


async def test_when_slack_cannot_say_what_an_earlier_try_posted_nothing_is_sent_and_it_is_retried_later(
    slack: FakeSlack,  # noqa: F811
    slack_outbox: tuple[Outbox, Directory, SlackService],  # noqa: F811
) -> None:
    outbox, _, _ = slack_outbox
    messenger = _messenger(outbox, "slack")
    account = PlatformIdentity("slack", TEAM, "U1")
    await messenger.send_part(account, OutboundPart(KEY + "h", text="Hello"))  # opens the DM
    slack.drop_connection_after("conversations.history", times=4)  # the read and all of slack_sdk's own retries of it

    with pytest.raises(DeliveryError) as unsure:
        await messenger.send_part(account, OutboundPart(KEY, text="Your day"), earlier_try=EARLIER)

    assert unsure.value.retryable and "could not check" in unsure.value.reason
    assert slack.texts(slack.dm_channel("U1")) == ["Hello"]
    await messenger.send_part(account, OutboundPart(KEY, text="Your day"), earlier_try=EARLIER)
    assert slack.texts(slack.dm_channel("U1")) == ["Hello", "Your day"]


async def test_a_discord_text_and_file_posted_before_discord_forgot_the_nonce_are_found_by_reading_back(
    fake_discord: FakeDiscord,  # noqa: F811
    discord_outbox: tuple[Outbox, Directory, DiscordService],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbox, _, _ = discord_outbox
    messenger = _messenger(outbox, "discord")
    account = discord_account(fake_discord, "alice")
    text = paragraphs(12)
    part = OutboundPart(KEY, text=text)
    file_part = OutboundPart(KEY + "f", file=pdf("2026-11-24 CaptainsLog.pdf"))
    first = await messenger.send_part(account, part)
    await messenger.send_part(account, file_part)
    channel = first.conversation.channel
    assert len(first.message_ids) >= 3
    for message_id in first.message_ids[1:]:  # the earlier try got only its first message out
        await messenger.client.http.delete_message(int(channel), int(message_id))  # type: ignore[attr-defined]
    monkeypatch.setattr(discord_server, "NONCE_MEMORY", 0.0)  # a retry long after: Discord forgot the nonces

    again = await messenger.send_part(account, part, earlier_try=EARLIER)
    await messenger.send_part(account, file_part, earlier_try=EARLIER)

    messages = bot_messages(fake_discord, channel)
    texts = [m["content"] for m in messages if not m["attachments"]]
    assert "\n\n".join(t.strip() for t in texts).split() == text.split(), "each piece once, in order"
    assert again.message_ids[0] == first.message_ids[0]
    assert [u.filename for u in fake_discord.uploads] == ["2026-11-24 CaptainsLog.pdf"]


async def test_a_daily_post_whose_slack_text_was_accepted_but_not_recorded_is_not_posted_twice(
    slack: FakeSlack,  # noqa: F811
    slack_outbox: tuple[Outbox, Directory, SlackService],  # noqa: F811
    database: Database,
    model: OpenAIModel,
    openai_fake: FakeOpenAI,
    tmp_path: Path,
) -> None:
    # Slack has no idempotency key for chat.postMessage: only the metadata read back keeps the retry from posting again.
    outbox, _, _ = slack_outbox
    messenger = _messenger(outbox, "slack")
    people = People(database)
    ada = await people.user("Ada", timezone="Europe/Paris", platforms=())
    async with database.engine.begin() as conn:
        await conn.execute(insert(Identity), {"user_id": ada, "platform": "slack", "workspace": TEAM,
                                              "platform_user_id": "U1", "display_name": "Ada",
                                              "created_at": EPOCH})  # fmt: skip
    await people.exchange(ada, paris(10, 0), "The regatta is on Saturday", "Noted.", platform="slack")
    openai_fake.default = lambda _request: Reply(SUMMARY)
    clock = ManualClock(paris(22, 31))
    first = daily_process(database, model, clock, messengers=[], pdf_dir=tmp_path / "a", worker="a")
    first.outbox.register(messenger)
    # Slack took the text; the bot is stopped before it records that.
    await stopped_at_a_part(first, messenger, stops_at=lambda part: part.file is None, after_sending=True)

    second = daily_process(database, model, clock, messengers=[], pdf_dir=tmp_path / "b", worker="b")
    second.outbox.register(messenger)
    assert (await second.runner.run_due())[(ada, DAY)] is DayOutcome.DONE

    texts = slack.texts(slack.dm_channel("U1"))
    assert [t.startswith("*Your day") for t in texts] == [True, False], texts  # the text, then the PDF's message
    assert [u.filename for u in slack.uploads] == [f"{DAY.isoformat()} CaptainsLog.pdf"]
