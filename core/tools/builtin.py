"""Built-in tools that need nothing but the standard library."""

from __future__ import annotations

from typing import Any

from core.timefmt import is_valid_zone, stamp, zone
from core.tools.calculator import Calculator, evaluate
from core.tools.registry import Tool, ToolContext, ToolInputError

__all__ = [
    "CURRENT_TIME",
    "builtin_tools",
    "calculate_tool",
    "evaluate",
]


async def _current_time(arguments: dict[str, Any], context: ToolContext) -> str:
    name = arguments.get("timezone") or context.timezone.key
    if not is_valid_zone(name):
        raise ToolInputError(f"{name!r} is not an IANA time zone such as 'Europe/Paris'.")
    return f"It is {stamp(context.now, zone(name))} ({name})."


CURRENT_TIME = Tool(
    name="current_time",
    description="The current date and time, in the user's time zone or another IANA time zone.",
    parameters={
        "type": "object",
        "properties": {"timezone": {"type": "string", "description": "IANA zone, e.g. 'America/New_York'."}},
        "required": [],
    },
    handler=_current_time,
    status="Checking the time…",
)


def calculate_tool(calculator: Calculator) -> Tool:
    """The calculate tool, evaluating in ``calculator``'s worker processes (never on the event loop)."""

    async def calculate(arguments: dict[str, Any], _context: ToolContext) -> str:
        expression = str(arguments.get("expression", "")).strip()
        if not expression:
            raise ToolInputError("give an expression, e.g. '12 * (3 + 4)'.")
        return f"{expression} = {await calculator.evaluate(expression)}"

    return Tool(
        name="calculate",
        description="Evaluate an arithmetic expression exactly (use it instead of mental arithmetic).",
        parameters={
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. '(12.5 * 4) / 3 + sqrt(2)'"}},
            "required": ["expression"],
        },
        handler=calculate,
        status="Calculating…",
    )


def builtin_tools(calculator: Calculator) -> tuple[Tool, ...]:
    """The built-in tools, the calculator running in ``calculator`` (which the caller closes)."""
    return (CURRENT_TIME, calculate_tool(calculator))
