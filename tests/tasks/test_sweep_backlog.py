"""The sweep and a long queue: an operation still waiting in its queue past the grace period
is not lost, and is not enqueued again (every sweep would add a copy of each waiting task, and
each copy is one more run). On the real queue storage of the run (SQLite file, or Redis in the
PostgreSQL pass)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from db_support import execute

import tasks.worker  # noqa: F401  (registers every task, so that queued ones deserialize)
from models.hosts import report_host
from models.records import sql_time, utcnow
from models.settings import Settings
from models.work import Claim, claim_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace
from tasks.dispatch import enqueue_operations
from tasks.provision import provision_workspace
from tasks.queue import huey
from tasks.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("migrated")


def create(settings: Settings, name: str, provider: str = "local") -> str:
    """A create operation, recorded long enough ago to be past the sweep's grace period."""
    _, op = insert_workspace(NewWorkspace("alice", name, provider), Limits())
    past = sql_time(utcnow() - timedelta(seconds=settings.requeue_after + 1))
    assert execute(settings, "UPDATE operations SET started_at = ? WHERE id = ?", (past, op.id))
    return op.id


def sweep_confirming(settings: Settings, lost: str) -> int:
    """Two sweeps: the first marks `lost` (in no queue), the second, once that mark is half a
    grace period old, enqueues it again. Returns how many the second one requeued."""
    assert run_sweep(settings).requeued == 0
    past = sql_time(utcnow() - timedelta(seconds=settings.requeue_after))
    assert execute(settings, "UPDATE operations SET missing_since = ? WHERE id = ?", (past, lost))
    return run_sweep(settings).requeued


def queued(host: str | None) -> list[str]:
    items = huey.storage_for(host).enqueued_items()
    return sorted(huey.deserialize_task(item).args[0] for item in items)


def test_an_operation_waiting_in_the_queue_is_not_enqueued_again(migrated: Settings) -> None:
    waiting, lost = create(migrated, "waiting"), create(migrated, "lost")
    assert enqueue_operations([(waiting, "create")])  # `lost`: a crash before its enqueue
    assert sweep_confirming(migrated, lost) == 1
    assert queued(None) == sorted([waiting, lost])
    assert run_sweep(migrated).requeued == 0  # both wait now; the grace period starts again


def test_a_retry_waiting_in_the_schedule_is_not_enqueued_again(migrated: Settings) -> None:
    op = create(migrated, "retrying")
    huey.storage_for(None).add_to_schedule(
        huey.serialize_task(provision_workspace.s(op)), utcnow() + timedelta(hours=1)
    )
    assert run_sweep(migrated).requeued == 0
    assert queued(None) == []


def test_a_backlog_on_a_docker_hosts_queue_counts_as_waiting(migrated: Settings) -> None:
    report_host("a", "unix:///a.sock", None)
    waiting, lost = create(migrated, "one", "docker"), create(migrated, "two", "docker")
    assert enqueue_operations([(waiting, "create")])
    assert sweep_confirming(migrated, lost) == 1
    assert queued("a") == sorted([waiting, lost])
    assert queued(None) == []


def test_a_task_taken_off_the_queue_but_not_yet_claimed_is_not_enqueued_again(
    migrated: Settings,
) -> None:
    # The moment between a consumer's dequeue and its claim: the task is in no queue and its
    # operation still pending. A sweep then used to enqueue a second copy (seen in CI with two
    # consumers on Redis: one create executed twice).
    op = create(migrated, "in-flight")
    assert enqueue_operations([(op, "create")])
    taken = huey.storage_for(None).dequeue()
    assert huey.deserialize_task(taken).args[0] == op
    assert run_sweep(migrated).requeued == 0
    assert queued(None) == []
    assert isinstance(claim_operation(op, migrated.max_attempts), Claim)  # the consumer goes on
    past = sql_time(utcnow() - timedelta(seconds=migrated.requeue_after))
    execute(migrated, "UPDATE operations SET missing_since = ? WHERE id = ?", (past, op))
    assert run_sweep(migrated).requeued == 0  # running now: its heartbeat speaks for it
    assert queued(None) == []
