"""A new time zone set through /settings moves the person's reminders at once: the installed reminders feature
hears the settings change and wakes its runner, which would otherwise look again only at its next planned pass.

The clock stands still throughout, so only that wake-up can move the reminder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.clock import ManualClock
from core.db.database import Database
from core.llm import OpenAIModel
from core.reminders.times import Schedule
from core.reminders.unit import RemindersFeature
from core.settings.registry import SettingsRegistry
from core.speak import Speak
from core.types import ConversationRef, PlatformIdentity
from tests.conftest import make_chat_service
from tests.feature_helpers import install_on
from tests.reminder_helpers import Platform
from tests.settings_helpers import every_setting

ANA = PlatformIdentity("test", "", "ana", "Ana")
LISBON = ZoneInfo("Europe/Lisbon")


async def test_a_zone_changed_in_settings_moves_the_reminders_without_waiting_for_the_next_pass(
    database: Database, model: OpenAIModel
) -> None:
    from core.commands import CommandRequest, CommandSet, options_from_line
    from core.identity.profile import Profiles
    from core.messenger import Outbox

    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    chat = make_chat_service(database, model, clock=clock, sleep=clock.sleep)
    outbox = Outbox(chat.people)
    outbox.register(Platform("test"))
    registry: SettingsRegistry = every_setting(chat, Profiles(database))
    commands = CommandSet(chat, model, registry)
    feature = RemindersFeature(worker="p1")
    install_on(chat, feature, commands=commands, settings=registry, outbox=outbox,
               speak=Speak(database, outbox, clock=clock))  # fmt: skip
    assert feature.services is not None
    store, runner = feature.services.store, feature.services.runner
    ana = (await chat.people.admit(ANA)).user
    assert ana is not None
    made = await store.create(
        user_id=ana.id, text="standup", schedule=Schedule(datetime(2026, 12, 8, 8, 30), LISBON, "FREQ=DAILY"),
        platform="test",
    )  # fmt: skip
    await runner.start()
    try:
        await _until(lambda: runner.passes >= 1)  # its first pass is made; now it sleeps on the still clock

        place = ConversationRef("test", "", "ana")
        options = options_from_line(commands.commands["settings"], "timezone Asia/Tokyo")
        reply = await commands.run("settings", CommandRequest(ANA, place, options))
        assert "Time zone set to Asia/Tokyo." in reply.text

        async def moved() -> bool:
            return (await store.get(made.id)).timezone == "Asia/Tokyo"

        await _until_async(moved)
    finally:
        await runner.stop()
    reminder = await store.get(made.id)
    assert (reminder.timezone, reminder.next_local) == ("Asia/Tokyo", "2026-12-08T08:30:00")


async def _until(check: object, limit: int = 2000) -> None:
    for _ in range(limit):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never happened")


async def _until_async(check: object, limit: int = 2000) -> None:
    for _ in range(limit):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the reminder never moved to the new zone")
