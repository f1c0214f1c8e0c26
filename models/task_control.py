"""An operator's revoke and retry of an operation: each one short, conditional transaction."""

from __future__ import annotations

import json
from typing import Any

from models.errors import InvalidTransition, NotFound
from models.records import OperationRecord, WorkspaceRecord, utcnow
from models.states import (
    AccessType,
    OperationStatus,
    OperationType,
    SnapshotStatus,
    WorkspaceStatus,
)
from models.store import active, write_session
from models.work import _apply_failure
from models.workspaces import Limits, new_operation, request_action

PENDING = OperationStatus.PENDING.value
RETRYABLE = (OperationStatus.FAILED.value, OperationStatus.CANCELLED.value)
ACCESS = {kind.value for kind in AccessType}


class Refused(Exception):
    """The operator's request does not apply now; the message says why and what can be done."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _merge_detail(op: Any, **values: Any) -> None:
    detail = json.loads(op.detail_json) if op.detail_json else {}
    detail.update(values)
    op.detail_json = json.dumps(detail, separators=(",", ":"))


@write_session
def cancel_operation(
    operation_id: str, by: str, owner: str | None = None, verb: str = "revoked"
) -> OperationRecord:
    """A pending operation becomes cancelled, so that neither its task nor the sweep runs it.

    An operation no worker ever started (no attempt) did nothing: its workspace goes back to
    the status it had when the action was asked for (`detail.from_status`), a restart of a
    running workspace to running. One that was started and given back for a retry may have
    done part of its work: the workspace goes where a failure of the action would leave it
    (models/states.py ON_FAILURE), a restart or rebuild to failed. A cancelled create is
    failed either way. A running operation is refused: its worker is doing the work and will
    record the result.
    """
    Operation, Workspace = active().entities.Operation, active().entities.Workspace
    op = Operation.get(id=operation_id)
    if op is None or (owner is not None and op.owner != owner):
        raise NotFound(operation_id)
    if op.status == OperationStatus.RUNNING.value:
        raise Refused("TASK_RUNNING", running_message(op.workspace_id))
    if op.status != PENDING:
        raise Refused("NOT_PENDING", f"operation {op.id} already finished: it is {op.status}")
    now = utcnow()
    message = f"{verb} by {by}"
    ws = Workspace.get(id=op.workspace_id)
    before = (ws.status, ws.error_message) if ws is not None else None
    _apply_failure(op, ws, message, now)
    op.status = OperationStatus.CANCELLED.value
    _merge_detail(op, **{f"{verb}_by": by})
    from_status = _untouched_status(op)
    if ws is not None and before is not None and ws.status != before[0] and from_status:
        ws.status, ws.error_message = from_status, before[1]  # nothing was done to it
    elif ws is not None and ws.error_message == message:
        ws.error_message = f"{op.operation_type} cancelled by {by}"
    return OperationRecord.from_entity(op)


def _untouched_status(op: Any) -> str | None:
    """The status to go back to when `op` was never started; None otherwise."""
    if op.attempts:
        return None
    return json.loads(op.detail_json or "{}").get("from_status")


def running_message(workspace_id: str | None) -> str:
    delete = (
        f"delete the workspace (DELETE /api/v1/workspaces/{workspace_id}: it runs right after), "
        if workspace_id
        else ""
    )
    return (
        "the task is running and huey cannot stop a running task. Wait for it to finish, "
        f"{delete}or stop the worker (SIGINT lets running tasks finish; SIGTERM interrupts them, "
        "and the sweep runs them again after VM_API_HEARTBEAT_TIMEOUT)"
    )


@write_session
def retry_operation(
    operation_id: str, by: str, limits: Limits
) -> tuple[WorkspaceRecord, OperationRecord]:
    """A new pending operation of the same type and target, through the request path.

    The failed operation stays as it was (its error is the record of what happened) and points
    to its retry in `detail.retried_as`; the new one says `reason: retry of <id>`.
    """
    Operation, Workspace = active().entities.Operation, active().entities.Workspace
    op = Operation.get(id=operation_id)
    if op is None:
        raise NotFound(operation_id)
    if op.status not in RETRYABLE:
        raise Refused("NOT_FAILED", f"only a failed or cancelled operation is retried: {op.status}")
    if op.operation_type in ACCESS:
        raise Refused("NOT_QUEUED", f"{op.operation_type} is not queued work: run it again")
    detail = json.loads(op.detail_json) if op.detail_json else {}
    if detail.get("retried_as"):
        raise Refused("ALREADY_RETRIED", f"already retried as operation {detail['retried_as']}")
    ws = Workspace.get(id=op.workspace_id)
    if ws is None or ws.status in (WorkspaceStatus.DELETED.value, WorkspaceStatus.DELETING.value):
        raise Refused("WORKSPACE_GONE", "the workspace is deleted or being deleted")
    action = OperationType(op.operation_type)
    try:
        if action is OperationType.CREATE:
            ws_record, new = _retry_create(ws, op)
        else:
            _prepare_snapshot(action, op.target_id)
            ws_record, new = request_action(ws.id, None, action, limits, op.target_id)
    except InvalidTransition as exc:
        raise Refused("INVALID_STATE", f"not allowed now: {exc}") from None
    created = Operation.get(id=new.id)
    created.requested_by = by
    created.reason = f"retry of {op.id}"
    _merge_detail(op, retried_as=new.id)
    return ws_record, OperationRecord.from_entity(created)


def _retry_create(ws: Any, op: Any) -> tuple[WorkspaceRecord, OperationRecord]:
    """No request path creates a workspace twice: a failed one goes back to `creating`, as
    long as nothing (a rebuild, say) has happened to it since."""
    if ws.status != WorkspaceStatus.FAILED.value:
        raise InvalidTransition("create", ws.status)
    now = utcnow()
    ws.status = WorkspaceStatus.CREATING.value
    ws.error_message = None
    ws.updated_at = now
    new = new_operation(ws, OperationType.CREATE, now, op.target_id)
    return WorkspaceRecord.from_entity(ws), OperationRecord.from_entity(new)


def _prepare_snapshot(action: OperationType, snapshot_id: str | None) -> None:
    """The snapshot a retried snapshot operation works on must be in the status the request
    path would have put it in."""
    if snapshot_id is None or action not in (
        OperationType.SNAPSHOT,
        OperationType.SNAPSHOT_RESTORE,
        OperationType.SNAPSHOT_DELETE,
    ):
        return
    snapshot = active().entities.Snapshot.get(id=snapshot_id)
    if snapshot is None or snapshot.deleted_at is not None:
        raise Refused("SNAPSHOT_GONE", f"snapshot {snapshot_id} no longer exists")
    if action is OperationType.SNAPSHOT:
        if snapshot.status != SnapshotStatus.FAILED.value:
            raise InvalidTransition("snapshot into", snapshot.status, snapshot=True)
        snapshot.status = SnapshotStatus.CREATING.value
        snapshot.error = None
    elif action is OperationType.SNAPSHOT_RESTORE and snapshot.status != "ready":
        raise InvalidTransition("restore from", snapshot.status, snapshot=True)
    elif action is OperationType.SNAPSHOT_DELETE:
        snapshot.status = SnapshotStatus.DELETING.value
