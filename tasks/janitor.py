"""The janitor: TTL enforcement (through the trash), and repair of drift between the database
and the providers.

It does no slow provider work for expired workspaces itself: it marks them `deleting` and
enqueues their cleanup, in batches, each batch enqueued after its transaction commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from models.change_events import purge_events
from models.idempotency import purge_expired_keys
from models.maintenance import expire_workspaces, live_workspace_ids, running_workspace_ids
from models.settings import PROVIDERS, Settings
from models.tickets import purge_expired_tickets
from models.trash import PURGE_BATCH, purge_due_trash
from models.webhooks import purge_deliveries
from models.work import mark_vanished
from tasks import metrics
from tasks.dispatch import enqueue_operations
from tasks.idle_stop import run_idle_stop
from tasks.providers import get_provider
from tasks.providers.base import ProviderError
from tasks.scheduled_actions import run_schedules

log = logging.getLogger("vm_api.janitor")
BATCH = 2000


@dataclass
class JanitorReport:
    expired: int = 0
    orphans_removed: int = 0
    orphans_left: int = 0  # orphans whose removal failed; tried again at the next run
    vanished: int = 0
    idempotency_keys_purged: int = 0
    events_purged: int = 0
    webhooks_purged: int = 0
    scheduled: int = 0
    idle_stopped: int = 0
    terminal_tickets_purged: int = 0
    trash_purged: int = 0


def expire(batch: int = BATCH, keep_for: int = 0) -> int:
    total = 0
    while True:
        requeue = expire_workspaces(batch, keep_for)
        if requeue:
            enqueue_operations([(item.operation_id, item.operation_type) for item in requeue])
        total += len(requeue)
        if len(requeue) < batch:
            return total


def reconcile(settings: Settings, report: JanitorReport) -> None:
    """Drift repair of what this consumer reaches: its own Docker host's daemon when it is
    bound to one (VM_API_WORKER_HOST_NAME), else the service's daemon and local folders."""
    host = settings.worker_host_name
    for name in PROVIDERS if host is None else ("docker",):
        try:
            _reconcile_provider(name, settings, host, report)
        except ProviderError as exc:
            # An unreachable daemon says nothing about what exists: never read it as "gone".
            log.warning("skipping drift check for %s: %s", name, exc)


def _reconcile_provider(
    name: str, settings: Settings, host: str | None, report: JanitorReport
) -> None:
    provider = get_provider(name, settings, host)
    owned = provider.owned_workspace_ids()
    ours = owned | provider.snapshot_workspace_ids()
    # An orphan has no live workspace on any host: a workspace that lives elsewhere never
    # loses what this daemon holds of it to this check.
    for workspace_id in sorted(ours - live_workspace_ids(name)):
        log.warning("removing %s resources of workspace %s: no live workspace", name, workspace_id)
        try:
            provider.destroy(workspace_id)
        except ProviderError as exc:
            if exc.transient:  # the provider is unreachable: so would the next orphan be
                raise
            # One orphan that will not go (an image someone else runs from, say) must not
            # keep the others: it is tried again at the next run.
            log.warning("could not remove %s resources of %s: %s", name, workspace_id, exc)
            report.orphans_left += 1
            continue
        report.orphans_removed += 1
    for workspace_id in running_workspace_ids(name, host):
        if workspace_id not in owned and not provider.is_present(workspace_id):
            message = f"the {name} resource of this workspace disappeared outside vm-api"
            if mark_vanished(workspace_id, message):
                log.warning("workspace %s: %s", workspace_id, message)
                report.vanished += 1


def purge_trash() -> int:
    """Trash entries past their retention: out of the trash now, their leftovers queued."""
    total = 0
    while True:
        purges = purge_due_trash()
        if purges:
            enqueue_operations(purges)
        total += len(purges)
        if len(purges) < PURGE_BATCH:
            return total


def run_janitor(settings: Settings, *, drift: bool = True) -> JanitorReport:
    """The janitor's run; `drift=False` leaves drift repair to `run_drift_repair`, which runs
    once per slot on each Docker host (tasks/schedule.py)."""
    report = JanitorReport(
        expired=expire(keep_for=settings.trash_retention),
        trash_purged=purge_trash(),
        idempotency_keys_purged=purge_expired_keys(),
        events_purged=purge_events(),
        webhooks_purged=purge_deliveries(),
        scheduled=run_schedules(settings),
        idle_stopped=run_idle_stop(settings),
        terminal_tickets_purged=purge_expired_tickets(),
    )
    if drift:
        reconcile(settings, report)
    return _recorded("janitor", report)


def run_drift_repair(settings: Settings) -> JanitorReport:
    report = JanitorReport()
    reconcile(settings, report)
    return _recorded("drift", report)


def _recorded(job: str, report: JanitorReport) -> JanitorReport:
    for kind in ("expired", "orphans_removed", "orphans_left", "vanished"):
        if getattr(report, kind):
            metrics.DRIFT_REPAIRS.labels(kind).inc(getattr(report, kind))
    worked = any(vars(report).values())
    metrics.PERIODIC_RUNS.labels(job, "worked" if worked else "idle").inc()
    # An idle run says so at DEBUG only: an idle service writes nothing at INFO.
    log.log(logging.INFO if worked else logging.DEBUG, "%s: %s", job, report)
    return report
