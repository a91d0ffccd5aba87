"""The calculator: a bounded arithmetic evaluator, run in worker processes with a hard timeout.

:func:`evaluate` refuses, before computing, anything whose result or cost could
grow without bound (huge powers, factorials, ``round`` digits), evaluates each
node of the expression once, and caps the expression's length, node count and
depth.  :class:`Calculator` runs it off the event loop in a small pool of
reusable worker processes; a worker that passes the time limit is killed and
replaced, so no expression can stall other conversations.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import math
import multiprocessing
import operator
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from core.tools.registry import ToolInputError

log = logging.getLogger(__name__)

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


def _serve(conn: Connection, limits: Limits) -> None:
    """A worker's loop: one expression in, ``(ok, value or message)`` out, until told to stop."""
    conn.send("ready")
    while True:
        try:
            expression = conn.recv()
        except (EOFError, OSError):
            return
        if expression is None:
            return
        try:
            conn.send((True, evaluate(expression, limits)))
        except ToolInputError as exc:
            conn.send((False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the worker must answer, whatever happened
            conn.send((False, f"the calculation failed ({type(exc).__name__})"))


@dataclass(eq=False, slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection

    def stop(self) -> None:
        """Kill the process (it may be mid-calculation) and release its pipe; safe to repeat."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(1.0)  # SIGKILL cannot be ignored: the wait is for the kernel, not the worker
        self.conn.close()


class Calculator:
    """Runs :func:`evaluate` off the event loop, in at most ``workers`` reusable processes.

    A calculation that passes ``timeout`` seconds has its worker killed (a thread
    could not be stopped) and a fresh one takes its place on the next call.
    Call :meth:`close` at shutdown; it kills every worker, busy or idle.
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        workers: int = 2,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass
        start_timeout: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.limits = limits
        self._workers = workers
        # A forkserver forks workers from a clean single-threaded process that
        # already imported this module, so a replacement starts in milliseconds
        # and never inherits the bot's threads or sockets.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._closed = False

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: an asyncio semaphore belongs to the loop it first waited on.
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._workers))
        return self._slots[1]

    async def evaluate(self, expression: str) -> Number:
        """The value of ``expression``; :class:`ToolInputError` with a sentence when refused or too slow."""
        if self._closed:
            raise ToolInputError("the calculator is shutting down")
        if len(expression) > self.limits.max_length:
            raise ToolInputError(f"the expression is longer than {self.limits.max_length} characters")
        async with self._semaphore():
            worker = await self._take()
            self._busy.add(worker)
            healthy = False
            try:
                ok, value = await self._ask(worker, expression)
                healthy = True
            finally:
                self._busy.discard(worker)
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    worker.stop()
        if not ok:
            raise ToolInputError(value)
        return value

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            worker.stop()
        # Starting the forkserver the first time imports this module in a new interpreter: off the loop.
        return await asyncio.to_thread(self._start)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.limits), name="calculator", daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        # The child may first re-import the program's main script (multiprocessing does so
        # for scripts run by path); that time must not count against a calculation.
        try:
            if parent.poll(self.start_timeout) and parent.recv() == "ready":
                return worker
        except (EOFError, OSError):
            pass
        log.error("a calculator worker did not start (exit code %s)", process.exitcode)
        worker.stop()
        raise ToolInputError("the calculator is not available right now")

    async def _ask(self, worker: _Worker, expression: str) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        answered = loop.create_future()
        fd = worker.conn.fileno()
        loop.add_reader(fd, lambda: answered.done() or answered.set_result(None))
        try:
            worker.conn.send(expression)
            await asyncio.wait_for(answered, self.timeout)
            reply: tuple[bool, Any] = worker.conn.recv()
        except TimeoutError:
            log.warning("a calculation ran past %g s and was stopped (%d characters)", self.timeout, len(expression))
            raise ToolInputError(f"the calculation took longer than {self.timeout:g} s and was stopped") from None
        except (EOFError, OSError) as exc:
            log.error("a calculator worker died (exit code %s)", worker.process.exitcode)
            raise ToolInputError("the calculation failed") from exc
        finally:
            loop.remove_reader(fd)
        return reply

    def close(self) -> None:
        """Kill every worker; later calls are refused."""
        self._closed = True
        for worker in self._idle:
            worker.stop()
        self._idle.clear()
        # A busy worker's caller sees the pipe close and answers "the calculation failed".
        for worker in self._busy:
            if worker.process.is_alive():
                worker.process.kill()
