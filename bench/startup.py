"""How fast the program starts, as a user starts it: ``python -m bench.startup [--runs 5]``.

Each figure is the median (and max) wall time of the real command in a fresh
subprocess, from spawn until:

- ``--version``: the process exits;
- ``chat``: the terminal chat's first prompt is printed (a fresh data folder the
  first time, so the first run includes creating the database; then warm);
- ``run``: the runtime logs "discord started" / "slack started", against the
  loopback Discord and Slack fakes (their handshakes are instant, so the figure is
  our own start-up).

Targets (issue "Running it for real"): ``--version`` under 0.3 s, the chat's prompt
under 2 s, ``run`` connected under 3 s, on this 2-core machine with nothing else running.
"""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "you › "
DEADLINE = 60.0


def _environment(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONIOENCODING="utf-8",
        DATA_DIR=str(data_dir),
        OPENAI_API_KEY="sk-bench",
        MEMORY_EXTRACTION="false",
        DAILY_SUMMARY_TIME="off",
    )
    env.update(settings)
    return env


def _time_until(command: list[str], env: dict[str, str], cwd: Path, done: Callable[[str], bool]) -> float:
    """Seconds from spawn until ``done(output so far)``; the process is then stopped."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    seen = b""
    try:
        while time.perf_counter() - started < DEADLINE:
            if not selector.select(timeout=0.05):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            seen += chunk
            if done(seen.decode("utf-8", "replace")):
                return time.perf_counter() - started
            if not chunk:
                break
        raise RuntimeError(f"{' '.join(command[2:])} did not get there:\n{seen.decode('utf-8', 'replace')[-2000:]}")
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _version(runs: int, workdir: Path) -> list[float]:
    env = _environment(workdir / "data")
    return [
        _time_until([sys.executable, "-m", "bot", "--version"], env, workdir, lambda out: "captainslog " in out)
        for _ in range(runs)
    ]


def _chat(runs: int, workdir: Path, openai: FakeOpenAI) -> tuple[float, list[float]]:
    env = _environment(workdir / "data", OPENAI_BASE_URL=openai.base_url)
    command = [sys.executable, "-m", "bot", "chat", "--transcript"]  # the prompt is printed only in a transcript
    first = _time_until(command, env, workdir, lambda out: PROMPT in out)
    return first, [_time_until(command, env, workdir, lambda out: PROMPT in out) for _ in range(runs)]


def _run(runs: int, workdir: Path, openai: FakeOpenAI, platform: str) -> list[float]:
    times = []
    for _ in range(runs):
        if platform == "discord":
            fake_cm: FakeDiscord | FakeSlack = FakeDiscord()
        else:
            fake_cm = FakeSlack()
        with fake_cm as fake:
            if isinstance(fake, FakeDiscord):
                settings = {
                    "DISCORD_TOKEN": fake.bot_token,
                    "DISCORD_API_URL": fake.api_url,
                    "DISCORD_GATEWAY_URL": fake.gateway_url,
                }
            else:
                settings = {
                    "SLACK_BOT_TOKEN": fake.bot_token,
                    "SLACK_APP_TOKEN": fake.app_token,
                    "SLACK_API_URL": fake.api_url,
                }
            env = _environment(
                workdir / "data", OPENAI_BASE_URL=openai.base_url, ALLOWED_ACCOUNTS=f"{platform}:*", **settings
            )
            times.append(
                _time_until(
                    [sys.executable, "-m", "bot", "run"], env, workdir, lambda out: f"{platform} started" in out
                )
            )
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    table = Table(title=f"Start-up, wall time of the real command ({args.runs} runs; median / max)")
    for column in ("what", "median", "max", "target"):
        table.add_column(column, justify="right" if column != "what" else "left")

    def row(what: str, times: list[float], target: str) -> None:
        table.add_row(what, f"{statistics.median(times):.2f} s", f"{max(times):.2f} s", target)

    with tempfile.TemporaryDirectory() as folder, FakeOpenAI() as openai:
        workdir = Path(folder)
        row("captainslog --version", _version(args.runs, workdir), "< 0.3 s")
        first, warm = _chat(args.runs, workdir, openai)
        row("chat: prompt, first start (new database)", [first], "")
        row("chat: prompt", warm, "< 2 s")
        row("run: Discord connected", _run(args.runs, workdir, openai, "discord"), "< 3 s")
        row("run: Slack connected", _run(args.runs, workdir, openai, "slack"), "< 3 s")
    Console().print(table)


if __name__ == "__main__":
    main()
