"""The calculator's costs: refusing the expressions that used to freeze the bot, a round trip
through a worker process, replacing a killed worker, and how late the event loop runs while
a worker computes.

    python -m bench.calculator [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from core.tools.calculator import Calculator, Limits, evaluate
from core.tools.registry import ToolInputError

REPRODUCED = {
    "round(1, -10**299)": "round(1, -10**299)",
    "round(1, -10**8)": "round(1, -10**8)",
    "24 nested factorial(": "factorial(" * 24 + "3" + ")" * 24,
    "12 * (3 + 4) (answered)": "12 * (3 + 4)",
}


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered) * 1000:10.3f} {p95 * 1000:10.3f}"


def in_process(repeat: int) -> list[tuple[str, list[float]]]:
    rows = []
    for label, expression in REPRODUCED.items():
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            try:
                evaluate(expression)
            except ToolInputError:
                pass
            samples.append(time.perf_counter() - started)
        rows.append((f"evaluate: {label}", samples))
    return rows


async def through_workers(repeat: int) -> list[tuple[str, list[float]]]:
    calculator = Calculator(timeout=0.2, limits=Limits(max_digits=10**9))
    try:
        started = time.perf_counter()
        await calculator.evaluate("1 + 1")
        first = [time.perf_counter() - started]
        trips = []
        for _ in range(repeat):
            started = time.perf_counter()
            await calculator.evaluate("12 * (3 + 4)")
            trips.append(time.perf_counter() - started)
        gaps: list[float] = []
        replaced: list[float] = []
        for _ in range(5):
            slow = asyncio.create_task(calculator.evaluate("factorial(10 ** 7)"))
            last = time.perf_counter()
            while not slow.done():
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last - 0.001)
                last = now
            try:
                await slow
            except ToolInputError:
                pass
            started = time.perf_counter()
            await calculator.evaluate("1 + 1")
            replaced.append(time.perf_counter() - started)
        return [
            ("first call (starts the forkserver and a worker)", first),
            ("round trip through a warm worker", trips),
            ("call after a timeout (a new worker is forked)", replaced),
            ("event-loop lateness while a worker computes", gaps),
        ]
    finally:
        calculator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rows = in_process(args.repeat) + asyncio.run(through_workers(args.repeat))
    print(f"{'what':<58} {'p50 ms':>10} {'p95 ms':>10}")
    for label, samples in rows:
        print(f"{label:<58} {_ms(samples)}")


if __name__ == "__main__":
    main()
