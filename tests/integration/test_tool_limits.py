"""Tool calls are capped per model step and per answer; paid tools count against daily allowances kept in
the database, so two processes on one database share one allowance.

Real openai client against the fake, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from core.agents.images import MakeImageTool
from core.clock import ManualClock
from core.db.database import Database
from core.limits import LimitSettings, UsageLimits
from core.llm import OpenAIModel
from core.tools.registry import Tool, ToolContext, ToolRegistry
from tests.chat_helpers import say
from tests.conftest import TEST_NOW, make_chat_service
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls


def counting_tool(runs: list[str]) -> Tool:
    async def note(arguments: dict[str, Any], _context: ToolContext) -> str:
        runs.append(str(arguments.get("n")))
        return f"noted {arguments.get('n')}"

    return Tool("note", "Note a number.", {"type": "object", "properties": {"n": {"type": "integer"}}}, note)


def greedy_model(request: dict[str, Any]) -> ToolCalls | Reply:
    """A model that asks for 100 tool calls whenever it is offered tools, and answers only without them."""
    if request.get("tools"):
        return ToolCalls([("note", {"n": n}) for n in range(100)])
    return Reply("Here is what I could do.")


async def test_a_hundred_tool_calls_in_one_step_run_only_up_to_the_caps(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    runs: list[str] = []
    chat = make_chat_service(database, model, tools=ToolRegistry.of([counting_tool(runs)]))
    chat.limits = UsageLimits(
        LimitSettings(0, 0, 0, 0, tool_calls_per_round=8, tool_calls_per_turn=24), clock=chat.clock, db=database
    )
    openai_fake.default = greedy_model

    reply = await say(chat, "note every number you can think of")

    assert reply.done is not None and reply.text == "Here is what I could do."
    assert len(runs) == 24, "8 a step, 24 in the whole answer (not 600)"
    requests = openai_fake.chat_requests()
    assert len(requests) == 4, "three steps of tools, then one call without tools for the answer"
    assert [bool(r.get("tools")) for r in requests] == [True, True, True, False]
    # Every call the model made got an answer (the API requires it); those past the cap say they were refused.
    results = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert len(results) == 100
    assert [r["content"] for r in results[:8]] == [f"noted {n}" for n in range(8)]
    assert all(r["content"].startswith("Refused: not run. At most 8 tool calls") for r in results[8:])
    third = [m["content"] for m in requests[3]["messages"] if m["role"] == "tool"][-100:]
    assert third[:8] == [f"noted {n}" for n in range(8)]
    assert third[8].startswith("Refused: not run. This answer already used its 24 tool calls")


async def test_image_allowance_is_shared_by_two_processes_on_one_database(
    database: Database, model: OpenAIModel, openai_fake: FakeOpenAI
) -> None:
    clock = ManualClock(TEST_NOW)
    settings = LimitSettings(0, 0, images_per_day=2, waiting_per_conversation=0)
    chats = []
    for _ in range(2):  # two processes: two services, each with its own UsageLimits, one database
        chat = make_chat_service(database, model, tools=ToolRegistry.of([MakeImageTool(model)]), clock=clock)
        chat.limits = UsageLimits(settings, clock=clock, db=database)
        chats.append(chat)
    draw = ToolCalls([("make_image", {"prompt": "a red boat"})])

    answered_by = []
    for chat in (chats[0], chats[1], chats[1]):
        openai_fake.queue(draw, Reply("Done."))
        reply = await say(chat, "draw me a red boat")
        answered_by.append(len(reply.files))
        tool_result = [m for m in openai_fake.last_messages() if m["role"] == "tool"][-1]["content"]

    assert answered_by == [1, 1, 0], "the third image of the day is refused, whichever process is asked"
    assert tool_result.startswith("Refused: not run. You've reached today's limit of 2 images.")
    assert len(openai_fake.requests_to("/v1/images/generations")) == 2

    clock.advance(days=1)
    openai_fake.queue(draw, Reply("Done."))
    assert len((await say(chats[0], "and another one")).files) == 1, "a new day, a new allowance"
