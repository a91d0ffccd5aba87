"""`speak` on both databases: one post per key, what a retry sends, `only`, `remember`, and the refusals.

The platforms are the reminder tests' recording platforms (a key seen before is not
posted again when a try looks back, like the real read-back); the real clients are
in tests/e2e/test_speak.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.access import AccessPolicy
from core.clock import ManualClock
from core.context import ContextBuilder
from core.daily.prefs import preferred_platform
from core.db.database import Database
from core.llm import OpenAIModel
from core.messenger import DeliveryError, Outbox
from core.people import People
from core.speak import Composer, Speak, Unreachable
from core.speak.compose import NOTE
from core.tokens import TokenCounter
from core.toolloop.loop import ToolLoop
from core.types import PlatformIdentity
from tests.daily_helpers import People as DayPeople
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.reminder_helpers import Crashed, Platform, assistant_messages, make_user

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def speak_on(database: Database, *platforms: Platform) -> Speak:
    outbox = Outbox(People(database, accounts=AccessPolicy(()), clock=ManualClock(NOW)))
    for platform in platforms:
        outbox.register(platform)
    return Speak(database, outbox, clock=ManualClock(NOW))


async def test_a_failed_try_sends_the_new_text_and_a_crashed_one_the_text_it_may_have_posted(
    database: Database,
) -> None:
    discord = Platform("discord", down=True)
    speak = speak_on(database, discord)
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")

    with pytest.raises(DeliveryError) as passing:
        await speak(ana, key="k1", text="at 9")
    assert passing.value.retryable and not isinstance(passing.value, Unreachable)
    discord.down = False
    discord.crash_after_post = True
    with pytest.raises(Crashed):
        await speak(ana, key="k1", text="at 9 (late)")  # the platform said no before: the new text goes
    discord.crash_after_post = False
    spoken = await speak(ana, key="k1", text="at 9 (later still)")  # it crashed after posting: that text stands

    assert discord.texts() == ["at 9 (late)"]
    assert spoken.text == "at 9 (late)" and discord.looked_back[-1] is not None
    assert await assistant_messages(database, ana) == ["at 9 (late)"]


async def test_the_person_is_told_elsewhere_when_one_platform_refuses_and_unreachable_when_all_do(
    database: Database,
) -> None:
    discord, slack = Platform("discord"), Platform("slack")
    speak = speak_on(database, discord, slack)
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon", platforms=("discord", "slack"))
    discord.closed.add("ana-discord")

    spoken = await speak(ana, key="k2", text="Stand up and stretch")

    assert discord.texts() == []
    assert slack.texts() == [
        "Stand up and stretch\n(I could not reach you on discord: the person does not accept direct messages from me.)"
    ]
    assert [(r.platform, r.reason) for r in spoken.refused] == [
        ("discord", "the person does not accept direct messages from me")
    ]

    slack.closed.add("ana-slack")
    with pytest.raises(Unreachable) as refused:
        await speak(ana, key="k3", text="Anyone there?")
    assert [r.platform for r in refused.value.refused] == ["discord", "slack"]
    slack.closed.clear()
    again = await speak(ana, key="k3", text="Anyone there?")  # asked again later: tried from the start
    assert (again.delivery.platform, again.again) == ("slack", False)
    assert slack.texts()[1].startswith("Anyone there?\n(I could not reach you on discord: ")
    assert await assistant_messages(database, ana) == slack.texts()


async def test_only_one_account_and_a_secret_left_out_of_the_history(database: Database) -> None:
    discord, slack = Platform("discord"), Platform("slack")
    speak = speak_on(database, discord, slack)
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon", platforms=("discord", "slack"))
    account = PlatformIdentity("slack", "W1", "ana-slack")

    spoken = await speak(
        ana,
        key="k4",
        text="Connect again: https://x.test/signin/s3cret",
        only=account,
        remember="Connect again: [link]",
    )

    assert (discord.texts(), slack.texts()) == ([], ["Connect again: https://x.test/signin/s3cret"])
    assert spoken.text == "Connect again: [link]"
    assert await assistant_messages(database, ana) == ["Connect again: [link]"]
    assert (await speak.records.get("k4")).text == "Connect again: [link]"  # type: ignore[union-attr]

    slack.closed.add("ana-slack")
    with pytest.raises(Unreachable):
        await speak(ana, key="k5", text="only there", only=account)
    assert discord.texts() == [], "never to another account"


async def test_a_text_or_a_prompt_never_both(database: Database) -> None:
    speak = speak_on(database, Platform("discord"))
    ana = await make_user(database, "Ana", timezone="Europe/Lisbon")
    with pytest.raises(ValueError, match="either a text or a prompt"):
        await speak(ana, key="k6", text="a", prompt="b")
    with pytest.raises(ValueError, match="no model"):
        await speak(ana, key="k7", prompt="b")


async def test_a_prompt_reads_the_conversation_on_the_platform_it_goes_to(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    people = DayPeople(database)
    ana = await people.user("Ana", timezone="Europe/Lisbon", platforms=("discord", "slack"))
    await people.exchange(ana, NOW - timedelta(hours=3), "The regatta is on Saturday", "Noted.", platform="discord")
    await people.exchange(ana, NOW - timedelta(hours=1), "I bought new sails", "Nice.", platform="slack")
    discord, slack = Platform("discord"), Platform("slack")
    outbox = Outbox(People(database, accounts=AccessPolicy(()), clock=ManualClock(NOW)))
    for platform in (discord, slack):
        outbox.register(platform)
    context = ContextBuilder(TokenCounter(), assistant_name="CaptainsLog")
    composer = Composer(database, context=context, loop=ToolLoop(model), clock=ManualClock(NOW), default_timezone="UTC")
    speak = Speak(database, outbox, clock=ManualClock(NOW), composer=composer, count=context.counter.count)
    openai_fake.queue(Reply("[Mon 2026-12-07 09:00 WET] Good luck on Saturday!"), Reply("Enjoy the new sails!"))

    on_discord = await speak(ana, key="p1", prompt="Wish them luck.", prefer_platform="discord")
    on_slack = await speak(ana, key="p2", prompt="Ask about the sails.")  # the conversation with the newest message

    first, second = openai_fake.chat_requests()
    seen = [[str(m["content"]) for m in request["messages"]] for request in (first, second)]
    assert any("The regatta is on Saturday" in c for c in seen[0]) and not any("sails" in c for c in seen[0])
    assert any("I bought new sails" in c for c in seen[1]) and not any("regatta" in c for c in seen[1])
    assert first["messages"][0]["role"] == "system" and "CaptainsLog" in first["messages"][0]["content"]
    assert first["messages"][-1] == {"role": "system", "content": NOTE.format(user="Ana", prompt="Wish them luck.")}
    assert "tools" not in first or not first["tools"]
    assert (discord.texts(), slack.texts()) == (["Good luck on Saturday!"], ["Enjoy the new sails!"])
    assert (on_discord.text, on_slack.text) == ("Good luck on Saturday!", "Enjoy the new sails!")


async def test_the_platform_the_person_chose_goes_first_unless_the_caller_says_otherwise(database: Database) -> None:
    discord, slack = Platform("discord"), Platform("slack")
    outbox = Outbox(People(database, accounts=AccessPolicy(()), clock=ManualClock(NOW)))
    for platform in (discord, slack):
        outbox.register(platform)
    speak = Speak(database, outbox, clock=ManualClock(NOW), chosen=preferred_platform)
    ana = await DayPeople(database).user("Ana", timezone="Europe/Lisbon", settings={"daily_platform": "slack"})

    assert (await speak(ana, key="c1", text="Chosen")).delivery.platform == "slack"
    assert (await speak(ana, key="c2", text="Asked there", prefer_platform="discord")).delivery.platform == "discord"
    assert [a.platform for a in await speak.accounts(ana)] == ["slack", "discord"]
    assert (slack.texts(), discord.texts()) == (["Chosen"], ["Asked there"])
