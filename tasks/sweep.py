"""The provisioner sweep: the safety net under the direct enqueue.

It re-enqueues operations that were committed but never enqueued (a crash between the two)
(an operation whose task still waits in its queue, behind a backlog, is not lost),
and operations whose worker died mid-way (stale heartbeat), up to VM_API_MAX_ATTEMPTS; and it
marks the workspaces of a Docker host that stopped reporting (models/hosts.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from models.hosts import mark_unreachable
from models.maintenance import recover_operations
from models.settings import Settings
from models.work import fail_operation
from tasks import metrics
from tasks.dispatch import enqueue_operations, still_queued
from tasks.webhooks import run_webhooks

log = logging.getLogger("vm_api.sweep")


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    failed: int
    webhooks: int = 0
    unreachable: int = 0  # workspaces whose host's reachability changed


def run_sweep(settings: Settings) -> SweepReport:
    recovery = recover_operations(
        settings.requeue_after, settings.heartbeat_timeout, settings.max_attempts, still_queued
    )
    for item in recovery.requeue:
        log.warning("re-enqueueing lost operation %s (%s)", item.operation_id, item.operation_type)
    if recovery.requeue:
        enqueue_operations([(item.operation_id, item.operation_type) for item in recovery.requeue])
    for operation_id in recovery.exhausted:
        fail_operation(
            operation_id,
            f"the worker died {settings.max_attempts} times while running this operation",
        )
    webhooks = run_webhooks(settings)
    # A Docker host that went quiet: its workspaces say why they cannot be reached.
    unreachable = mark_unreachable(settings.host_timeout)
    report = SweepReport(len(recovery.requeue), len(recovery.exhausted), webhooks, unreachable)
    worked = bool(report.requeued or report.failed or report.webhooks or report.unreachable)
    metrics.PERIODIC_RUNS.labels("sweep", "worked" if worked else "idle").inc()
    log.log(logging.INFO if worked else logging.DEBUG, "sweep: %s", report)
    return report
