"""The daily log's small rules: end-of-day settings, local day bounds, the retry rest, the gap in words."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.daily.context_step import how_long
from core.daily.day import day_bounds
from core.daily.job import retry_delay
from core.daily.prefs import closes_at, closing_time, parse_daily_time, preferred_platform

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("22:30", time(22, 30)), ("7:05", time(7, 5)), ("2230", time(22, 30)), ("22h30", time(22, 30)),
     ("off", None), (" OFF ", None), ("00:00", time(0, 0))],
)  # fmt: skip
def test_daily_time_is_read_in_the_ways_people_type_it(typed: str, expected: time | None) -> None:
    assert parse_daily_time(typed) == expected


@pytest.mark.parametrize("typed", ["24:00", "22:60", "late", "", "10"])
def test_a_daily_time_that_is_not_a_time_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_daily_time(typed)


def test_the_users_setting_wins_over_the_default_and_off_means_off() -> None:
    assert closing_time({"daily_time": "21:00"}, "22:30") == time(21, 0)
    assert closing_time({}, "22:30") == time(22, 30)
    assert closing_time({"daily_time": "off"}, "22:30") is None
    assert closing_time({}, "off") is None
    assert closing_time({"daily_time": "garbled"}, "22:30") == time(22, 30)


def test_a_day_closes_at_its_local_time_and_midnight_means_its_end() -> None:
    assert closes_at(date(2026, 11, 24), time(22, 30), PARIS) == datetime(2026, 11, 24, 21, 30, tzinfo=UTC)
    assert closes_at(date(2026, 11, 24), time(0, 0), PARIS) == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def test_local_days_around_daylight_saving_changes_are_23_and_25_hours() -> None:
    spring_start, spring_end = day_bounds(date(2026, 3, 29), PARIS)
    autumn_start, autumn_end = day_bounds(date(2026, 10, 25), PARIS)
    assert spring_end - spring_start == timedelta(hours=23)
    assert autumn_end - autumn_start == timedelta(hours=25)
    assert spring_start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)


def test_only_discord_and_slack_are_daily_platforms() -> None:
    assert preferred_platform({"daily_platform": "slack"}) == "slack"
    assert preferred_platform({"daily_platform": "telegram"}) is None
    assert preferred_platform({}) is None


def test_a_failed_day_rests_longer_after_each_try_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 7, 30)] == [timedelta(minutes=m) for m in (1, 2, 4, 60, 60)]


def test_the_gap_since_the_last_message_in_words() -> None:
    assert how_long(timedelta(hours=12, minutes=15)) == "12 hours and 15 minutes"
    assert how_long(timedelta(days=3, hours=1, minutes=59)) == "3 days and 1 hour"
    assert how_long(timedelta(minutes=1)) == "1 minute"
    assert how_long(timedelta(seconds=20)) == "less than a minute"
