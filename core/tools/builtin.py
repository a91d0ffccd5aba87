"""Built-in tools that need nothing but the standard library."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from core.timefmt import is_valid_zone, stamp, zone
from core.tools.registry import Tool, ToolContext, ToolInputError


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

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {
    name: getattr(math, name)
    for name in ("sqrt", "log", "log10", "exp", "sin", "cos", "tan", "floor", "ceil", "factorial")
} | {"abs": abs, "round": round}
_CONSTANTS = {"pi": math.pi, "e": math.e}


MAX_DIGITS = 300  # results beyond a googol cubed are refused, not computed


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_DIGITS * 3.33:
        raise ToolInputError(f"the result has more than {MAX_DIGITS} digits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolInputError("the result is too large to represent")
    return value


def evaluate(expression: str) -> float | int:
    """Evaluate arithmetic safely: numbers, + - * / // % **, and a few math functions.

    Every intermediate result is bounded, so no expression can run for long or
    produce a number too large to print.
    """

    def walk(node: ast.AST) -> Any:
        return _bounded(step(node))

    def step(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if (
                isinstance(node.op, ast.Pow)
                and abs(left) > 1
                and right > 0
                and right * math.log10(abs(left)) > MAX_DIGITS
            ):
                raise ToolInputError(f"the result has more than {MAX_DIGITS} digits")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            if node.func.id == "factorial" and node.args and walk(node.args[0]) > 150:
                raise ToolInputError(f"the result has more than {MAX_DIGITS} digits")
            return _FUNCTIONS[node.func.id](*(walk(arg) for arg in node.args))
        raise ToolInputError(f"unsupported expression element: {ast.dump(node)[:60]}")

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolInputError(f"not an arithmetic expression: {exc.msg}") from exc
    try:
        return walk(tree)
    except ZeroDivisionError as exc:
        raise ToolInputError("division by zero") from exc
    except (OverflowError, ValueError, TypeError) as exc:
        raise ToolInputError(str(exc)) from exc


async def _calculate(arguments: dict[str, Any], _context: ToolContext) -> str:
    expression = str(arguments.get("expression", "")).strip()
    if not expression:
        raise ToolInputError("give an expression, e.g. '12 * (3 + 4)'.")
    return f"{expression} = {evaluate(expression)}"


CALCULATE = Tool(
    name="calculate",
    description="Evaluate an arithmetic expression exactly (use it instead of mental arithmetic).",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "e.g. '(12.5 * 4) / 3 + sqrt(2)'"}},
        "required": ["expression"],
    },
    handler=_calculate,
    status="Calculating…",
)

BUILTIN_TOOLS = (CURRENT_TIME, CALCULATE)
