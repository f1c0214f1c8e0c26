"""Workspace schedules: validation, and which action comes due, across daylight saving."""

from __future__ import annotations

from datetime import datetime

import pytest

from models.schedules import due, parse_schedule

BERLIN_WORKDAYS = {
    "autostart": "30 8 * * 1-5",
    "autostop": "0 19 * * 1-5",
    "timezone": "Europe/Berlin",
}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"autostart": "30 8 * *"}, "5-field cron"),
        ({"autostart": "61 8 * * *"}, "not a valid cron"),
        ({"autostop": "0 19 * * 1-5", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": "UTC"}, "needs autostart, autostop or both"),
        ({"autostart": "0 8 * * *", "every": "day"}, "unknown key 'every'"),
        ("0 8 * * *", "must be an object"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(schedule: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(schedule)


def test_the_time_zone_defaults_to_utc() -> None:
    assert parse_schedule({"autostop": "0 19 * * *"}) == {
        "autostop": "0 19 * * *",
        "timezone": "UTC",
    }


def test_nothing_is_due_between_the_times() -> None:
    # Tuesday 2026-12-01, 10:00 to 17:00 UTC (11:00 to 18:00 in Berlin)
    assert due(BERLIN_WORKDAYS, datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 17)) is None


def test_local_times_hold_in_winter_and_summer() -> None:
    # Winter: Berlin is UTC+1, so 08:30 there is 07:30 UTC.
    assert due(BERLIN_WORKDAYS, datetime(2026, 12, 1, 7, 0), datetime(2026, 12, 1, 7, 31)) == (
        "start",
        datetime(2026, 12, 1, 7, 30),
    )
    # Summer: UTC+2, so 08:30 is 06:30 UTC.
    assert due(BERLIN_WORKDAYS, datetime(2026, 7, 1, 6, 0), datetime(2026, 7, 1, 6, 31)) == (
        "start",
        datetime(2026, 7, 1, 6, 30),
    )


def test_the_morning_after_the_clocks_go_forward() -> None:
    # 2026-03-29: Berlin goes from 02:00 to 03:00. Monday 30th, 08:30 local is 06:30 UTC.
    friday_evening = datetime(2026, 3, 27, 18, 30)  # after Friday's 19:00 stop (18:00 UTC)
    assert due(BERLIN_WORKDAYS, friday_evening, datetime(2026, 3, 30, 6, 29)) is None
    assert due(BERLIN_WORKDAYS, friday_evening, datetime(2026, 3, 30, 6, 31)) == (
        "start",
        datetime(2026, 3, 30, 6, 30),
    )


def test_a_time_the_clock_skips_runs_once_after_the_change() -> None:
    nightly = {"autostop": "30 2 * * *", "timezone": "Europe/Berlin"}  # 02:30 never happens
    came = due(nightly, datetime(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 3, 0))
    assert came is not None and came[0] == "stop"
    assert datetime(2026, 3, 29, 0, 59) <= came[1] <= datetime(2026, 3, 29, 1, 30)


def test_only_the_latest_of_both_counts() -> None:
    # Away over the whole of Tuesday: the stop at 19:00 came after the start at 08:30.
    assert due(BERLIN_WORKDAYS, datetime(2026, 12, 1, 0), datetime(2026, 12, 1, 23)) == (
        "stop",
        datetime(2026, 12, 1, 18, 0),
    )
