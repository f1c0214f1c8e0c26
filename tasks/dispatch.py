"""Enqueue the task that carries out an operation of a given type."""

from __future__ import annotations

import logging

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


def enqueue_operations(operations: list[tuple[str, str]]) -> bool:
    """Many (operation id, type) pairs at once, in one queue transaction where possible."""
    tasks = [TASK_FOR[OperationType(kind)].s(op_id) for op_id, kind in operations]
    try:
        huey.enqueue_all(tasks)
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
