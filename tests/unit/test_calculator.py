"""The calculator: bounded before computing, and run off the event loop with a hard timeout."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.db.repositories import UserRecord
from core.llm import ToolCall
from core.tools.builtin import builtin_tools
from core.tools.calculator import Calculator, Limits, evaluate
from core.tools.registry import ToolContext, ToolInputError, ToolRegistry

# Takes minutes when nothing bounds it (factorial of ten million).
SLOW = "factorial(10 ** 7)"
UNBOUNDED = Limits(max_digits=10**9)

MakeCalculator = Callable[..., Calculator]


@pytest.fixture
def make_calculator() -> Iterator[MakeCalculator]:
    """Calculators for one test, every one closed afterwards."""
    made: list[Calculator] = []

    def make(**options: Any) -> Calculator:
        made.append(Calculator(**options))
        return made[-1]

    yield make
    for calculator in made:
        calculator.close()


def calculator_pids() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.name == "calculator" and p.pid is not None}


# -- the reproduced freezes are refused before any work -------------------------------------


@pytest.mark.timeout(10)  # each of these used to run for seconds or forever: a hang becomes a failure
@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("round(1, -10**299)", "round's number of digits must be a whole number from -300 to 300"),
        ("round(1, -10**8)", "round's number of digits must be a whole number from -300 to 300"),
        ("round(1, 10**8)", "round's number of digits must be a whole number from -300 to 300"),
        ("round(1, 2.5)", "round's number of digits must be a whole number"),
        ("factorial(" * 24 + "3" + ")" * 24, "the result has more than 300 digits"),
        ("factorial(" * 45 + "3" + ")" * 45, "the result has more than 300 digits"),
        ("factorial(167)", "the result has more than 300 digits"),
        ("(-8) ** 0.5", "the result is not a real number"),
        ("round(2.5, ndigits=10**9)", "round\\(\\) takes its arguments by position only"),
        ("1" + " + 1" * 125, "the expression is longer than 500 characters"),
        ("-" * 260 + "1", "the expression is nested more than 250 levels deep"),
        ("-1+" * 160 + "1", "the expression has more than 300 operations"),  # 481 characters
    ],
)
def test_expressions_that_froze_the_bot_are_refused_with_a_reason(expression: str, complaint: str) -> None:
    with pytest.raises(ToolInputError, match=complaint):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("round(1234.5678, -2)", 1200.0),
        ("round(1234.5678, 2)", 1234.57),
        ("round(7, -300)", 0),
        ("factorial(factorial(3))", 720),
        ("factorial(166) // factorial(165)", 166),
        ("1" + " + 1" * 120, 121),
        ("-" * 200 + "7", 7),
    ],
)
def test_bounded_arguments_inside_the_limits_are_still_computed(expression: str, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value)


def test_limits_are_settings_of_the_evaluator() -> None:
    with pytest.raises(ToolInputError, match="more than 10 digits"):
        evaluate("10 ** 11", Limits(max_digits=10))
    with pytest.raises(ToolInputError, match="longer than 5 characters"):
        evaluate("1 + 2 + 3", Limits(max_length=5))
    assert evaluate("10 ** 400", Limits(max_digits=500)) == 10**400


# -- off the event loop, with a hard timeout -------------------------------------------------


async def test_the_calculator_answers_and_refuses_through_its_workers(make_calculator: MakeCalculator) -> None:
    calculator = make_calculator()

    assert await calculator.evaluate("2 + 3 * 4") == 14
    with pytest.raises(ToolInputError, match="round's number of digits"):
        await calculator.evaluate("round(1, -10**299)")
    with pytest.raises(ToolInputError, match="longer than 500 characters"):
        await calculator.evaluate("1" * 501)
    assert await calculator.evaluate("sqrt(16)") == 4.0


async def test_the_event_loop_keeps_serving_while_a_calculation_runs_until_it_is_cut(
    make_calculator: MakeCalculator,
) -> None:
    calculator = make_calculator(timeout=0.2, limits=UNBOUNDED)
    assert await calculator.evaluate("6 * 7") == 42  # a worker is up

    slow = asyncio.create_task(calculator.evaluate(SLOW))
    loop_turns = 0
    while not slow.done():
        loop_turns += 1  # computed on the loop, the task would finish within the first turn
        await asyncio.sleep(0)

    with pytest.raises(ToolInputError, match="took longer than 0.2 s and was stopped"):
        await slow
    assert loop_turns > 1
    assert await calculator.evaluate("6 * 9") == 54, "a fresh worker replaces the killed one"


async def test_another_conversation_is_answered_while_a_slow_calculation_runs(make_calculator: MakeCalculator) -> None:
    calculator = make_calculator(timeout=120, workers=2, limits=UNBOUNDED)
    before = calculator_pids()
    await calculator.start()

    slow = asyncio.create_task(calculator.evaluate(SLOW))
    await asyncio.sleep(0)  # the slow one has its expression in the started worker
    assert await calculator.evaluate("2 + 2") == 4
    assert not slow.done(), "the slow calculation is still running in its own process"

    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert len(calculator_pids() - before) == 1, "the cancelled calculation's worker was killed, the idle one kept"


async def test_a_worker_started_ahead_serves_the_first_calculation(make_calculator: MakeCalculator) -> None:
    calculator = make_calculator()
    before = calculator_pids()

    await calculator.start()
    started = calculator_pids() - before
    assert await calculator.evaluate("2 ** 10") == 1024

    assert len(started) == 1 and calculator_pids() - before == started


async def test_close_leaves_no_process_behind(make_calculator: MakeCalculator) -> None:
    calculator = make_calculator(workers=2, limits=UNBOUNDED, timeout=120)
    before = calculator_pids()
    await calculator.start()
    busy = asyncio.create_task(calculator.evaluate(SLOW))
    await asyncio.sleep(0)  # the busy one has its expression in the started worker
    assert await calculator.evaluate("1 + 1") == 2
    started = calculator_pids() - before
    assert len(started) == 2

    calculator.close()

    with pytest.raises(ToolInputError, match="the calculation failed"):
        await busy
    assert started & calculator_pids() == set()
    with pytest.raises(ToolInputError, match="shutting down"):
        await calculator.evaluate("1 + 1")


# -- the tool the model calls ---------------------------------------------------------------


async def test_the_calculate_tool_tells_the_model_what_is_wrong(make_calculator: MakeCalculator) -> None:
    context = ToolContext(
        user=UserRecord(id=1, display_name="Ada", timezone="UTC", settings={}),
        conversation_id=1,
        now=datetime(2026, 11, 24, 13, 3, tzinfo=UTC),
        timezone=ZoneInfo("UTC"),
    )

    async def calculate(expression: str, calculator: Calculator) -> str:
        registry = ToolRegistry.of(builtin_tools(calculator))
        call = ToolCall("call_1", "calculate", json.dumps({"expression": expression}))
        return (await registry.run(call, context)).content

    calculator, unbounded = make_calculator(), make_calculator(timeout=0.2, limits=UNBOUNDED)

    assert await calculate("1234 * 5678", calculator) == "1234 * 5678 = 7006652"
    assert await calculate("round(1, -10**8)", calculator) == (
        "Error: round's number of digits must be a whole number from -300 to 300"
    )
    assert await calculate("   ", calculator) == "Error: give an expression, e.g. '12 * (3 + 4)'."
    assert await calculate(SLOW, unbounded) == "Error: the calculation took longer than 0.2 s and was stopped"
