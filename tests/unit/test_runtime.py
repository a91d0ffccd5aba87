"""The runtime's lifecycle with small services of the test's own: concurrent starts, stop at any moment, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from adapters.errors import PlatformStartError
from bot.runtime import run_services


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (a deadline against a hang, not a speed assertion)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 10 s")


class Recorder:
    """A service that records what happened to it; its start waits for ``release`` or fails with ``refuse``."""

    def __init__(self, name: str, journal: list[str], *, refuse: str | None = None, hang: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.refuse = refuse
        self.release = asyncio.Event()
        if not hang:
            self.release.set()

    async def start(self) -> None:
        self.journal.append(f"{self.name} starting")
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.journal.append(f"{self.name} start cancelled")
            raise
        if self.refuse:
            raise PlatformStartError(self.refuse)
        self.journal.append(f"{self.name} started")

    async def stop(self) -> None:
        self.journal.append(f"{self.name} stopped")


async def test_every_service_starts_at_once_and_a_stop_cancels_the_slow_one() -> None:
    journal: list[str] = []
    slow = Recorder("discord", journal, hang=True)
    quick = Recorder("slack", journal)
    stop = asyncio.Event()

    run = asyncio.create_task(run_services([slow, quick], stop_event=stop))
    await until(lambda: "slack started" in journal)
    assert "discord starting" in journal, "the slow start began before the quick one finished"
    stop.set()
    report = await asyncio.wait_for(run, 10)

    assert report.started == ["slack"] and report.failures == [] and not report.gave_up
    assert "discord start cancelled" in journal
    assert journal.count("discord stopped") == 1 and journal.count("slack stopped") == 1


async def test_a_refused_platform_is_left_stopped_while_the_other_runs() -> None:
    journal: list[str] = []
    refused = Recorder("slack", journal, refuse="Slack refused the token in SLACK_BOT_TOKEN (invalid_auth).")
    fine = Recorder("discord", journal)
    stop = asyncio.Event()

    run = asyncio.create_task(run_services([refused, fine], stop_event=stop))
    await until(lambda: "slack stopped" in journal and "discord started" in journal)
    assert not run.done(), "the other platform keeps running"
    stop.set()
    report = await asyncio.wait_for(run, 10)

    assert report.failures == ["Slack refused the token in SLACK_BOT_TOKEN (invalid_auth)."]
    assert report.started == ["discord"] and not report.gave_up
    assert journal.count("slack stopped") == 1, "a failed start is stopped once, to close what it opened"


async def test_when_every_needed_service_fails_the_others_stop_and_the_report_gives_up() -> None:
    journal: list[str] = []
    services = [
        Recorder("web", journal),
        Recorder("discord", journal, refuse="Discord refused the token in DISCORD_TOKEN."),
        Recorder("slack", journal, refuse="Slack refused the token in SLACK_APP_TOKEN."),
    ]

    report = await asyncio.wait_for(run_services(services, needed={"discord", "slack"}), 10)

    assert report.gave_up
    assert sorted(report.failures) == [
        "Discord refused the token in DISCORD_TOKEN.",
        "Slack refused the token in SLACK_APP_TOKEN.",
    ]
    assert "web stopped" in journal


async def test_a_stop_before_anything_started_cancels_every_start() -> None:
    journal: list[str] = []
    services = [Recorder("discord", journal, hang=True), Recorder("slack", journal, hang=True)]
    stop = asyncio.Event()
    stop.set()

    report = await asyncio.wait_for(run_services(services, stop_event=stop), 10)

    assert report.started == [] and report.failures == [] and not report.gave_up
    assert sorted(line for line in journal if "stopped" in line) == ["discord stopped", "slack stopped"]
