"""The event bus: typed subscriptions, order, sync and async handlers, and a failing handler kept apart."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from core.events import DayPosted, Event, EventBus, PersonForgotten


async def test_a_subscriber_gets_events_of_its_type_only_in_subscription_order() -> None:
    bus, seen = EventBus(), []

    async def later(event: DayPosted) -> None:
        seen.append(("async", event.day))

    bus.subscribe(DayPosted, lambda event: seen.append(("sync", event.user_id)))
    bus.subscribe(DayPosted, later)
    await bus.publish(PersonForgotten(7))
    await bus.publish(DayPosted(3, date(2026, 6, 1)))
    assert seen == [("sync", 3), ("async", date(2026, 6, 1))]


async def test_a_subscriber_to_the_base_type_sees_every_event() -> None:
    bus, seen = EventBus(), []
    bus.subscribe(Event, seen.append)
    await bus.publish(PersonForgotten(7))
    await bus.publish(DayPosted(3, date(2026, 6, 1)))
    assert seen == [PersonForgotten(7), DayPosted(3, date(2026, 6, 1))]


async def test_a_failing_handler_is_logged_with_its_traceback_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, seen = EventBus(), []

    def broken(event: PersonForgotten) -> None:
        raise TypeError("a bug in a subscriber")

    bus.subscribe(PersonForgotten, broken)
    bus.subscribe(PersonForgotten, lambda event: seen.append(event.user_id))
    with caplog.at_level(logging.ERROR, logger="core.events.bus"):
        await bus.publish(PersonForgotten(7))  # does not raise
    assert seen == [7]
    [record] = caplog.records
    assert "PersonForgotten handler" in record.getMessage() and "broken" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is TypeError
    assert bus.subscribers(PersonForgotten) == 2
