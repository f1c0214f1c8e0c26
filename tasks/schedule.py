"""Periodic work at second granularity on top of huey's once-a-minute periodic tasks.

Every minute `plan_periodic_work` schedules the janitor and the sweep for each multiple of
their interval (counted from the Unix epoch) in the coming minute and a bit. A key per slot
in huey's storage makes planning idempotent: a slot is scheduled once, however often it is
planned. A lock per job keeps runs from overlapping when one takes longer than its interval.

The janitor and the sweep are the cluster's: one run per slot whichever consumer plans it.
Drift repair compares a daemon with the data, so it is each Docker host's: its job name
carries the host (`drift@<host>`, `drift` for the service's own daemon), and every consumer
plans it for its own.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from huey import crontab
from huey.exceptions import TaskLockedException

from tasks import metrics
from tasks.janitor import run_drift_repair, run_janitor
from tasks.queue import current_settings, huey
from tasks.sweep import run_sweep

log = logging.getLogger("vm_api.schedule")
PLAN_HORIZON_SECONDS = 60


def slots(now: float, interval: int, horizon: float) -> Iterator[int]:
    """Epoch multiples of `interval` in [now, now + horizon)."""
    first = math.ceil(now / interval) * interval
    return iter(range(first, math.floor(now + horizon - 1e-9) + 1, interval))


def _slot_key(job: str, slot: int) -> str:
    return f"slot:{job}:{slot}"


def _plan(job: str, task: object, interval: int, now: float) -> int:
    planned = 0
    # Overlap the next planning by one interval so a late minute never leaves a gap.
    for slot in slots(now, interval, PLAN_HORIZON_SECONDS + interval):
        if huey.put_if_empty(_slot_key(job, slot), "1"):
            task.schedule(args=(slot,), eta=datetime.fromtimestamp(slot, UTC))  # type: ignore[attr-defined]
            planned += 1
    return planned


@huey.periodic_task(crontab(), retries=0)
def plan_periodic_work() -> None:
    settings = current_settings()
    now = time.time()
    _plan("sweep", sweep_slot, settings.provisioner_interval, now)
    _plan("janitor", janitor_slot, settings.janitor_interval, now)
    _plan(drift_job(settings.worker_host_name), drift_slot, settings.janitor_interval, now)


def drift_job(host: str | None) -> str:
    return "drift" if host is None else f"drift@{host}"


def _run_locked(job: str, slot: int, work: object) -> None:
    huey.delete(_slot_key(job, slot))
    try:
        with huey.lock_task(job):
            work(current_settings())  # type: ignore[operator]
    except TaskLockedException:
        metrics.PERIODIC_RUNS.labels(job, "skipped").inc()
        log.info("%s slot %s skipped: the previous run is still going", job, slot)


@huey.task(retries=0)
def sweep_slot(slot: int) -> None:
    _run_locked("sweep", slot, run_sweep)


@huey.task(retries=0)
def janitor_slot(slot: int) -> None:
    _run_locked("janitor", slot, lambda settings: run_janitor(settings, drift=False))


@huey.task(retries=0)
def drift_slot(slot: int) -> None:
    _run_locked(drift_job(current_settings().worker_host_name), slot, run_drift_repair)
