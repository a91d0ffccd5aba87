"""kill -9 of the bot leaves no process of its own behind: the PDF render pool's worker, a
long day's part worker, multiprocessing's resource tracker, the calculator's forkserver and
its workers all end within seconds.

The process under test builds the render pool exactly as the bot does
(`bot.daily_wiring.render_pool`) and the bot's `Calculator`, starts a long day's render in
the pool (which starts a part worker), then waits. The test lists every descendant from
/proc, kills the parent with SIGKILL and polls until none is left. The deadline is against a
hang only (before the fix the pool worker and the tracker ran on for good).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # against a hang only

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")

_BOT = """
import asyncio, os
from bot.daily_wiring import render_pool
from core.export.pdf import render_day_pdf_sync
from core.tools.calculator import Calculator
from tests.unit.test_export_pdf_parts import _long_day

async def main() -> None:
    pool = render_pool()
    pool.submit(os.getpid).result()  # the worker is up
    calculator = Calculator(workers=2)
    await asyncio.gather(calculator.evaluate("2 + 2"), calculator.evaluate("3 * 3"))
    pool.submit(render_day_pdf_sync, _long_day())  # lays its second part out in a part worker
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(root: int) -> dict[int, str]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (parent := _parent_of(int(entry))) is not None:
            children.setdefault(parent, []).append(int(entry))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = _command(child)
            todo.append(child)
    return found


def _poll(condition: Callable[[], bool], what: Callable[[], str]) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting: {what()}")
        time.sleep(0.05)


def test_after_kill_9_of_the_bot_no_worker_or_resource_tracker_outlives_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    bot = subprocess.Popen(
        [sys.executable, "-c", _BOT], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    workers: dict[int, str] = {}
    try:
        assert bot.stdout is not None
        line = bot.stdout.readline()
        assert line.strip() == "ready", line + bot.stdout.read()
        # The render has reached its part worker: every kind of worker is running now.
        _poll(
            lambda: any("core.export.worker" in c for c in _descendants(bot.pid).values()),
            lambda: "no part worker started",
        )
        workers = _descendants(bot.pid)
        commands = " | ".join(workers.values())
        assert "resource_tracker" in commands and "forkserver" in commands and "spawn_main" in commands, commands
        assert len(workers) >= 6, commands  # pool worker, part worker, tracker(s), forkserver, 2 calculator workers

        bot.kill()
        bot.wait()

        _poll(lambda: not any(_alive(pid) for pid in workers), lambda: f"processes left behind: {_left(workers)}")
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _left(workers: dict[int, str]) -> str:
    return "; ".join(f"{pid} {command}" for pid, command in workers.items() if _alive(pid))
