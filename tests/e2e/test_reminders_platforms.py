"""Reminders through the real Discord and Slack clients: asked in words, confirmed, received, snoozed in words."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from core.reminders.times import spoken, to_local
from tests.e2e.buttons import Shown, buttons, press, shows
from tests.e2e.platform_bot import (
    PlatformBot,
    platform_bot_fixture,
    wikipedia,  # noqa: F401 - fixture
)
from tests.fakes.openai_server import Reply, ToolCalls

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

bot = platform_bot_fixture(manual_clock=True, default_timezone="Europe/Lisbon", daily_summary_time="off")
LISBON = ZoneInfo("Europe/Lisbon")


async def test_a_reminder_arrives_at_its_time_and_comes_back_when_snoozed_in_words(bot: PlatformBot) -> None:
    assert bot.clock is not None and bot.container is not None and bot.container.reminders is not None
    runner = bot.container.reminders.runner
    await runner.start()
    ada = bot.new_user("ada")
    bot.brain.main.extend([ToolCalls([("set_reminder", {"text": "call Ana", "in": "2 hours"})]), Reply("Will do.")])
    due = bot.clock() + timedelta(hours=2)

    answer = await bot.says(ada, "remind me in 2 hours to call Ana")

    assert "Will do." in answer
    await shows(bot, ada, f"⏰ {spoken(to_local(due, LISBON), LISBON)}: call Ana")
    before = len(bot.texts(ada))
    bot.clock.set(due)
    assert await bot.new_texts(ada, before) == ["⏰ Reminder: call Ana"]

    bot.brain.main.extend([ToolCalls([("snooze_reminder", {"for": "20 minutes"})]), Reply("Snoozed.")])
    await bot.says(ada, "snooze 20 minutes")
    await shows(bot, ada, f"Snoozed to {spoken(to_local(due + timedelta(minutes=20), LISBON), LISBON)}: call Ana")
    before = len(bot.texts(ada))
    bot.clock.set(due + timedelta(minutes=20))
    assert await bot.new_texts(ada, before) == ["⏰ Reminder: call Ana"]

    listed = await bot.command(ada, "reminders")
    assert "You have no reminders." in listed.text


async def test_a_reminder_comes_with_buttons_and_comes_back_when_snooze_is_pressed(bot: PlatformBot) -> None:
    assert bot.clock is not None and bot.container is not None and bot.container.reminders is not None
    await bot.container.reminders.runner.start()
    ada = bot.new_user("ada")
    bot.brain.main.extend([ToolCalls([("set_reminder", {"text": "call Ana", "in": "2 hours"})]), Reply("Will do.")])
    due = bot.clock() + timedelta(hours=2)
    await bot.says(ada, "remind me in 2 hours to call Ana")
    await shows(bot, ada, f"⏰ {spoken(to_local(due, LISBON), LISBON)}: call Ana")
    assert [b.label for b in await shown_buttons(bot, ada)] == ["Undo"]  # under the confirmation

    before = len(bot.texts(ada))
    bot.clock.set(due)
    assert await bot.new_texts(ada, before) == ["⏰ Reminder: call Ana"]
    assert [b.label for b in buttons(bot, ada)] == [
        "Undo",
        "Done", "Snooze 20 min", "Snooze 1 hour", "Tomorrow morning", "Reschedule"
    ]  # fmt: skip

    pressed = await press(bot, ada, "Snooze 20 min")

    later = due + timedelta(minutes=20)
    assert pressed == f"⏰ Reminder: call Ana\n💤 Snoozed to {spoken(to_local(later, LISBON), LISBON)}."
    before = len(bot.texts(ada))
    bot.clock.set(later)
    assert await bot.new_texts(ada, before) == ["⏰ Reminder: call Ana"]
    assert await press(bot, ada, "Done") == "⏰ Reminder: call Ana\n✅ Done."
    assert "You have no reminders." in (await bot.command(ada, "reminders")).text


async def test_undo_under_the_confirmation_cancels_the_reminder_just_set(bot: PlatformBot) -> None:
    assert bot.clock is not None
    ada = bot.new_user("ada")
    bot.brain.main.extend([ToolCalls([("set_reminder", {"text": "call Ana", "in": "2 hours"})]), Reply("Will do.")])
    said = f"{spoken(to_local(bot.clock() + timedelta(hours=2), LISBON), LISBON)}: call Ana"
    await bot.says(ada, "remind me in 2 hours to call Ana")
    await shows(bot, ada, f"⏰ {said}")
    assert [b.label for b in await shown_buttons(bot, ada)] == ["Undo"]

    pressed = await press(bot, ada, "Undo")

    assert pressed.endswith(f"\n↩️ Undone: {said} is cancelled.")
    assert "You have no reminders." in (await bot.command(ada, "reminders")).text


async def shown_buttons(bot: PlatformBot, user: str) -> list[Shown]:
    """The buttons once they are shown (they go under an answer just after its final text)."""

    def some(*_: object) -> list[Shown] | None:
        return buttons(bot, user) or None

    if bot.discord is not None:
        return await bot.discord.await_for(some, 10)
    assert bot.slack is not None
    return await bot.slack.await_for(some, timeout=10)
