"""The reminders feature as one unit: its store, scheduler, tools and command, built from a few dependencies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from core.clock import Clock, ManualClock, Sleep
from core.commands import Command
from core.db.database import Database
from core.features import FeatureContext, FeatureParts
from core.google.calendar import CalendarClient
from core.people import People
from core.reminders.actions import ReminderActions
from core.reminders.anchors import CalendarAnchors
from core.reminders.commands import ReminderCommands, reminder_commands
from core.reminders.delivery import ReminderDelivery
from core.reminders.event_tool import SetEventReminder
from core.reminders.followups import FollowUps
from core.reminders.occurrences import OccurrenceRepository
from core.reminders.runner import ReminderRunner
from core.reminders.store import ReminderStore
from core.reminders.tools import reminder_tools
from core.speak import Speak
from core.tools.registry import ToolBase
from core.types import PlatformIdentity


@dataclass
class Reminders:
    """What the container installs: tools for the model, ``/reminders``, and the scheduler service."""

    store: ReminderStore
    runner: ReminderRunner
    tools: list[ToolBase]
    commands: list[Command]
    follow_ups: FollowUps  # the daily log offers a day's open items through it
    actions: ReminderActions  # what /reminders does, for the web app's Reminders page and API


def build_reminders(
    database: Database,
    speak: Speak,
    people: People,
    *,
    clock: Clock,
    worker: str,
    max_active: int = 100,
    sleep: Sleep | None = None,
    calendar: CalendarClient | None = None,
) -> Reminders:
    """The reminders of this process, delivered through `speak`; `worker` names it in the occurrences' claims.

    `sleep` waits on `clock` (default: a ManualClock's own sleep, else asyncio's); with `calendar` (Google
    configured), reminders can follow calendar events."""
    if sleep is None:
        sleep = clock.sleep if isinstance(clock, ManualClock) else asyncio.sleep

    async def user_of(identity: PlatformIdentity) -> int | None:
        admission = await people.admit(identity)
        return admission.user.id if admission.user is not None else None

    store = ReminderStore(database, clock=clock, max_active=max_active)
    occurrences = OccurrenceRepository(database, worker=worker)
    anchors = CalendarAnchors(calendar, store, clock=clock) if calendar is not None else None
    delivery = ReminderDelivery(occurrences, speak, clock=clock, anchors=anchors)
    runner = ReminderRunner(
        database=database, store=store, occurrences=occurrences, delivery=delivery, clock=clock, sleep=sleep,
        anchors=anchors,
    )  # fmt: skip
    handler = ReminderCommands(store, user_of=user_of, clock=clock, changed=runner.poke)
    follow_ups = FollowUps(database, clock=clock, changed=runner.poke)
    tools = reminder_tools(store, runner.poke)
    if anchors is not None:
        tools.append(SetEventReminder(store, anchors, runner.poke))
    return Reminders(store, runner, tools, reminder_commands(handler), follow_ups, handler.actions)


class RemindersFeature:
    """Reminders as a feature unit: the tools and /reminders; :attr:`services` (with the runner the process
    starts beside the platforms) once installed."""

    name = "reminders"

    def __init__(self, *, worker: str, max_active: int = 100, calendar: CalendarClient | None = None) -> None:
        """``worker`` names this process in the occurrences' claims; ``max_active``: reminders per person;
        ``calendar`` (Google configured) lets reminders follow calendar events."""
        self.worker = worker
        self.max_active = max_active
        self.calendar = calendar
        self.services: Reminders | None = None

    def install(self, context: FeatureContext) -> FeatureParts:
        if context.speak is None:
            raise ValueError("reminders need speak to deliver through")
        self.services = build_reminders(
            context.db, context.speak, context.people, clock=context.clock, worker=self.worker,
            max_active=self.max_active, calendar=self.calendar,
        )  # fmt: skip
        if context.settings is not None:
            # A new time zone moves the person's reminders (the runner follows the people revision at each
            # pass): wake it now, not at its next planned pass (up to a minute away).
            runner = self.services.runner
            context.settings.subscribe(lambda _user, changed: runner.poke() if "timezone" in changed else None)
        return FeatureParts(tools=self.services.tools, commands=self.services.commands)

    async def offer_follow_ups(self, user_id: int, day: date, zone: ZoneInfo, summary: str, platform: str) -> int:
        """Offer a day's open items as reminders (the daily log calls it once the day is posted)."""
        if self.services is None:
            raise RuntimeError("the reminders feature is not installed")
        return await self.services.follow_ups.offer(user_id, day, zone, summary, platform)
