"""Enqueue the task that carries out an operation of a given type."""

from __future__ import annotations

import logging
from collections import defaultdict

from huey.api import Task

from models.hosts import operation_hosts
from models.states import OperationType
from models.task_ids import record_task_ids
from tasks import cleanup, lifecycle, provision
from tasks.queue import huey

log = logging.getLogger("vm_api.dispatch")

TASK_FOR = {
    OperationType.CREATE: provision.provision_workspace,
    OperationType.DELETE: cleanup.cleanup_workspace,
    OperationType.START: lifecycle.start_workspace,
    OperationType.STOP: lifecycle.stop_workspace,
    OperationType.RESTART: lifecycle.restart_workspace,
    OperationType.REBUILD: lifecycle.rebuild_workspace,
    OperationType.SNAPSHOT: lifecycle.snapshot_workspace,
    OperationType.SNAPSHOT_RESTORE: lifecycle.restore_snapshot,
    OperationType.SNAPSHOT_DELETE: lifecycle.delete_snapshot,
}


def _by_host(operations: list[tuple[str, str]], tasks: list[Task]) -> dict[str | None, list[Task]]:
    """Each task on the queue of its workspace's Docker host (None: the shared queue)."""
    hosts = operation_hosts([op_id for op_id, _ in operations])
    grouped: dict[str | None, list[Task]] = defaultdict(list)
    for (op_id, _), task in zip(operations, tasks, strict=True):
        grouped[hosts.get(op_id)].append(task)
    return grouped


def still_queued(operation_ids: list[str]) -> set[str]:
    """Which of these operations have a task waiting in their host's queue or schedule."""
    hosts = operation_hosts(operation_ids)
    wanted = set(operation_ids)
    found: set[str] = set()
    for host in {hosts.get(op_id) for op_id in operation_ids}:
        found |= wanted & huey.operations_waiting_on(host)
    return found


def enqueue_operations(operations: list[tuple[str, str]]) -> bool:
    """Many (operation id, type) pairs at once, in one queue transaction per host where
    possible."""
    tasks = [TASK_FOR[OperationType(kind)].s(op_id) for op_id, kind in operations]
    try:
        for host, queued in _by_host(operations, tasks).items():
            huey.enqueue_on(host, queued)
    except Exception:
        log.exception("could not enqueue %d operations; the sweep will retry them", len(operations))
        return False
    try:
        # After the enqueue, in one transaction for the batch: an operation leads to its tasks.
        record_task_ids(
            [(op_id, task.id) for (op_id, _), task in zip(operations, tasks, strict=True)]
        )
    except Exception:
        log.exception("could not record the task ids of %d operations", len(operations))
    return True


def enqueue_operation(operation_id: str, operation_type: str) -> bool:
    """Called only after the operation's transaction committed. A failed enqueue loses nothing:
    the operation stays pending and the sweep enqueues it again after VM_API_REQUEUE_AFTER."""
    queued = enqueue_operations([(operation_id, operation_type)])
    if queued:
        log.info("operation %s (%s) enqueued", operation_id, operation_type)
    return queued
