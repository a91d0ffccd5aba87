"""The example feature of docs/architecture.md (tests/examples/dice.py), installed as the container would:
its command answers, the model can call its tool, and nothing else of the chat service is touched."""

from __future__ import annotations

import random

from core.chat.settings_fields import timezone_registry
from core.commands import CommandRequest, CommandSet
from core.db.database import Database
from core.events import AnswerComplete, EventBus
from core.features import FeatureParts
from core.features.announce import AnswerEvents
from core.llm import OpenAIModel
from tests.chat_helpers import ALICE, PLACE, say
from tests.conftest import make_chat_service
from tests.examples.dice import Dice
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
from tests.feature_helpers import install_on


async def test_the_dice_feature_adds_its_command_its_tool_and_its_setting(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat = make_chat_service(database, model)
    registry = timezone_registry(chat)
    commands = CommandSet(chat, model, registry)
    parts = install_on(chat, Dice(random.Random(7)), commands=commands, settings=registry)
    assert isinstance(parts, FeatureParts) and [t.name for t in parts.tools] == ["roll_dice"]
    assert [f.name for f in registry.fields()] == ["timezone", "dice"]

    rolled = await commands.run("roll", CommandRequest(ALICE, PLACE, {"dice": "2d6"}))
    again = random.Random(7)
    first, second = again.randint(1, 6), again.randint(1, 6)
    assert rolled.text == f"2d6: {first} + {second} = {first + second}"
    wrong = await commands.run("roll", CommandRequest(ALICE, PLACE, {"dice": "banana"}))
    assert wrong.private and "is not dice I can roll" in wrong.text
    assert "/roll — Roll dice" in (await commands.run("help", CommandRequest(ALICE, PLACE))).text

    refused = await commands.run("settings", CommandRequest(ALICE, PLACE, {"dice": "3d1"}))
    chose = await commands.run("settings", CommandRequest(ALICE, PLACE, {"dice": "3d4"}))
    overview = await commands.run("settings", CommandRequest(ALICE, PLACE))
    bare = await commands.run("roll", CommandRequest(ALICE, PLACE))
    assert "is not dice I can roll" in refused.text
    assert (
        chose.text == "/roll now rolls 3d4." and "/roll rolls 3d4. Change it with /settings dice 2d6." in overview.text
    )
    assert bare.text.startswith("3d4: ")

    openai_fake.queue(ToolCalls([("roll_dice", {"dice": "d20"})]), Reply("You rolled it."))
    answer = await say(chat, "Roll a d20 for me")
    await chat.tasks.wait_idle()
    assert answer.text == "You rolled it." and "Rolling…" in answer.statuses
    offered = [tool["function"]["name"] for tool in openai_fake.chat_requests()[0]["tools"]]
    assert "roll_dice" in offered
    tool_answer = next(m["content"] for m in openai_fake.chat_requests()[1]["messages"] if m["role"] == "tool")
    assert tool_answer.startswith("1d20: ")


async def test_every_answer_stored_complete_is_published_once_installed(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    chat, events, heard = make_chat_service(database, model), EventBus(), []
    events.subscribe(AnswerComplete, heard.append)
    install_on(chat, AnswerEvents(), events=events)
    openai_fake.queue(Reply("Hello!"))
    await say(chat, "Hi")
    await chat.tasks.wait_idle()
    [event] = heard
    [answer] = [m for m in await chat.history(PLACE) if m.role == "assistant"]
    assert answer.content == "Hello!" and event.message_id == answer.id
    assert event.user_id == (await chat.admit(ALICE)).user.id  # type: ignore[union-attr]
