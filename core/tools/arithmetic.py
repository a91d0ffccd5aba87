"""Arithmetic that cannot run away: every argument and result bounded before it is used.

:func:`evaluate` refuses, before computing, anything whose result or cost could
grow without bound (huge powers, factorials, ``round`` digits), evaluates each
node of the expression once, and caps the expression's length, operation count
and depth.  :mod:`core.tools.calculator` runs it in worker processes.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.tools.registry import ToolInputError

Number = int | float


@dataclass(frozen=True, slots=True)
class Limits:
    """What one calculation may cost: input size and the size of every result."""

    max_length: int = 500
    max_operations: int = 300
    max_depth: int = 250
    max_digits: int = 300


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: getattr(math, name)
    for name in ("sqrt", "log", "log10", "exp", "sin", "cos", "tan", "floor", "ceil", "factorial")
} | {"abs": abs, "round": round}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _check_shape(tree: ast.AST, limits: Limits) -> None:
    """Refuse trees with too many operations or too deep a nesting, without recursion."""
    operations = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            depth += 1
            if depth > limits.max_depth:
                raise ToolInputError(f"the expression is nested more than {limits.max_depth} levels deep")
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Call):
            operations += 1
            if operations > limits.max_operations:
                raise ToolInputError(f"the expression has more than {limits.max_operations} operations")
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))


def _digits_of_power(base: Number, exponent: Number) -> float:
    """About how many digits ``base ** exponent`` has (0 when it cannot grow)."""
    if abs(base) <= 1 or exponent <= 0:
        return 0.0
    return float(exponent) * math.log10(abs(base))


def _factorial_digits(n: Any) -> float:
    return math.lgamma(n + 1) / math.log(10) if isinstance(n, int) and n > 1 else 0.0


def evaluate(expression: str, limits: Limits = Limits()) -> Number:  # noqa: B008 - frozen dataclass
    """Evaluate arithmetic safely: numbers, + - * / // % **, and a few math functions.

    Raises :class:`ToolInputError` with a sentence for the model when the
    expression is not arithmetic or would exceed ``limits``.  Every argument
    and intermediate result is bounded before the next step computes with it,
    so evaluation stays fast for any accepted input.
    """
    too_many_digits = f"the result has more than {limits.max_digits} digits"

    def bounded(value: Any) -> Number:
        if isinstance(value, complex):
            raise ToolInputError("the result is not a real number")
        if isinstance(value, int) and value.bit_length() > limits.max_digits * math.log2(10) + 1:
            raise ToolInputError(too_many_digits)
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolInputError("the result is too large to represent")
        return value

    def call(name: str, args: list[Number]) -> Any:
        if name == "factorial" and args and _factorial_digits(args[0]) > limits.max_digits:
            raise ToolInputError(too_many_digits)
        if name == "round" and len(args) == 2:
            digits = args[1]
            if not isinstance(digits, int) or abs(digits) > limits.max_digits:
                raise ToolInputError(
                    f"round's number of digits must be a whole number from -{limits.max_digits} to {limits.max_digits}"
                )
        return _FUNCTIONS[name](*args)

    def walk(node: ast.AST) -> Number:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return bounded(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and _digits_of_power(left, right) > limits.max_digits:
                raise ToolInputError(too_many_digits)
            return bounded(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return bounded(_UNARY[type(node.op)](walk(node.operand)))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            if node.keywords:
                raise ToolInputError(f"{node.func.id}() takes its arguments by position only")
            return bounded(call(node.func.id, [walk(arg) for arg in node.args]))
        raise ToolInputError(f"unsupported expression element: {ast.dump(node)[:60]}")

    if len(expression) > limits.max_length:
        raise ToolInputError(f"the expression is longer than {limits.max_length} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ToolInputError(f"not an arithmetic expression: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ToolInputError(f"not an arithmetic expression: {exc}") from exc
    _check_shape(tree, limits)
    try:
        return walk(tree.body)
    except ZeroDivisionError as exc:
        raise ToolInputError("division by zero") from exc
    except (OverflowError, ValueError, TypeError) as exc:
        if isinstance(exc, ToolInputError):
            raise
        raise ToolInputError(str(exc)) from exc
