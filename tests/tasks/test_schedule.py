"""Second-granularity planning on top of huey's once-a-minute periodic tasks."""

from __future__ import annotations

import time

import pytest

from models.settings import Settings
from tasks.queue import huey
from tasks.schedule import PLAN_HORIZON_SECONDS, _plan, slots, sweep_slot


def test_slots_are_the_epoch_multiples_in_the_window() -> None:
    assert list(slots(now=1000.5, interval=10, horizon=30)) == [1010, 1020, 1030]
    assert list(slots(now=1000.0, interval=10, horizon=20)) == [1000, 1010]
    assert list(slots(now=1.0, interval=300, horizon=60)) == []


def test_consecutive_minutes_leave_no_gap_for_an_interval_that_does_not_divide_60() -> None:
    start = 1_000_000
    covered: set[int] = set()
    for minute in range(5):
        # each planning runs a little late, as huey's scheduler does
        covered |= set(slots(start + 60 * minute + 0.7, 7, PLAN_HORIZON_SECONDS + 7))
    expected = {second for second in range(start + 1, start + 300) if second % 7 == 0}
    assert expected <= covered


@pytest.mark.usefixtures("migrated")
def test_planning_twice_schedules_each_slot_once(migrated: Settings) -> None:
    """Against the real queue (the SQLite file, or Redis in that pass): the slot keys make
    planning idempotent."""
    huey.flush()
    now = time.time()
    horizon = PLAN_HORIZON_SECONDS + 10
    expected = len(list(slots(now, 10, horizon)))
    assert _plan("sweep", sweep_slot, 10, now) == expected
    assert _plan("sweep", sweep_slot, 10, now) == 0
    later = now + 30
    new_slots = set(slots(later, 10, horizon)) - set(slots(now, 10, horizon))
    assert _plan("sweep", sweep_slot, 10, later) == len(new_slots)
    # Tasks with an eta go through the queue; the consumer moves them to its schedule.
    assert huey.pending_count() == expected + len(new_slots)
    if migrated.queue_url is None:
        assert migrated.resolved_queue_path.is_file()
    huey.flush()
