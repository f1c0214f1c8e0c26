"""What a worker does to the database around one operation: claim, finish, fail, heartbeat.

Each function is one short session. Slow provider work happens between them, never inside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from models.records import OperationRecord, WorkspaceRecord, sql_time, utcnow
from models.states import (
    AccessType,
    OperationStatus,
    OperationType,
    SnapshotStatus,
    WorkspaceStatus,
    failure_status,
    success_status,
    transitional_status,
)
from models.store import active, write_session
from models.trash import is_purge, keep_for, keep_in_trash

# Exec, terminal and file operations never hold a workspace: a stop may run beside a terminal.
ACCESS_TYPES_SQL = ", ".join(f"'{kind.value}'" for kind in AccessType)

PENDING = OperationStatus.PENDING.value
RUNNING = OperationStatus.RUNNING.value


class ClaimRefused(Enum):
    DONE = "done"  # finished, cancelled or claimed elsewhere: nothing to do
    BLOCKED = "blocked"  # another operation of the same workspace is running: try again soon


@dataclass(frozen=True)
class Claim:
    operation: OperationRecord
    workspace: WorkspaceRecord
    queued_at: Any = None  # when it was last enqueued (or recorded): the queue-wait metric


@dataclass(frozen=True)
class Outcome:
    provider_id: str | None = None
    connection_info: dict[str, Any] | None = None
    size_bytes: int | None = None


@write_session
def claim_operation(operation_id: str, max_attempts: int) -> Claim | ClaimRefused:
    """Pending -> running with one conditional UPDATE, unless its workspace is busy.

    An operation claimed more than `max_attempts` times keeps killing or failing its worker:
    it is failed instead of being tried forever.
    """
    db = active().db
    now = utcnow()
    cursor = db.execute(
        f"""
        UPDATE operations SET status = 'running', attempts = attempts + 1, heartbeat_at = $now,
            missing_since = NULL
        WHERE id = $operation_id AND status = 'pending'
          AND NOT EXISTS (
            SELECT 1 FROM operations AS other
            WHERE other.workspace_id = operations.workspace_id
              AND other.status = 'running' AND other.id <> operations.id
              AND other.operation_type NOT IN ({ACCESS_TYPES_SQL}))
        """,
        {},
        {"now": sql_time(now), "operation_id": operation_id},
    )
    Operation, Workspace = active().entities.Operation, active().entities.Workspace
    op = Operation.get(id=operation_id)
    if cursor.rowcount != 1:
        if op is not None and op.status == PENDING:
            return ClaimRefused.BLOCKED
        return ClaimRefused.DONE
    ws = Workspace.get(id=op.workspace_id)
    reason = _stale_reason(op, ws)
    if reason is None and op.attempts > max_attempts:
        reason = f"gave up after {max_attempts} attempts; the worker kept dying or failing"
        _apply_failure(op, ws, reason, now)
        return ClaimRefused.DONE
    if reason is not None:
        _finish(op, OperationStatus.FAILED, now, reason)
        return ClaimRefused.DONE
    queued_at = op.enqueued_at or op.started_at
    return Claim(OperationRecord.from_entity(op), WorkspaceRecord.from_entity(ws), queued_at)


def _stale_reason(op: Any, ws: Any) -> str | None:
    """Why an operation no longer applies to its workspace, if it does not."""
    if ws is None:
        return "the workspace no longer exists"
    if ws.status == WorkspaceStatus.DELETED.value:
        # A purge removes what a trash entry left behind: its workspace is deleted already.
        return None if is_purge(op) else "the workspace no longer exists"
    expected = transitional_status(OperationType(op.operation_type))
    if expected is None:
        if ws.status == WorkspaceStatus.DELETING.value:
            return "the workspace is being deleted"
        return None
    if ws.status != expected.value:
        return f"the workspace is {ws.status}, not {expected.value}"
    return None


def _finish(op: Any, status: OperationStatus, now: Any, error: str | None = None) -> None:
    op.status = status.value
    op.completed_at = now
    op.error = error
    op.heartbeat_at = None


def _snapshot_of(op: Any) -> Any:
    if op.target_id is None:
        return None
    return active().entities.Snapshot.get(id=op.target_id)


@write_session
def complete_operation(operation_id: str, outcome: Outcome) -> bool:
    """Record success and move the workspace to the action's final status.

    If a delete overtook this operation, the workspace keeps `deleting`; the provider id is
    still recorded so that the cleanup knows what exists.
    """
    Operation, Workspace = active().entities.Operation, active().entities.Workspace
    op = Operation.get(id=operation_id)
    if op is None or op.status != RUNNING:
        return False
    now = utcnow()
    _finish(op, OperationStatus.SUCCESS, now)
    action = OperationType(op.operation_type)
    ws = Workspace.get(id=op.workspace_id)
    if ws is None:
        return True
    if outcome.provider_id is not None:
        ws.provider_id = outcome.provider_id
        ws.connection_info_json = json.dumps(outcome.connection_info or {})
    final = success_status(action)
    expected = transitional_status(action)
    if final is not None and expected is not None and ws.status == expected.value:
        ws.status = final.value
        ws.error_message = None
        if final is WorkspaceStatus.DELETED:
            ws.deleted_at = now
            _drop_snapshots(ws.id, now, keep=keep_in_trash(ws, op, outcome.size_bytes, now))
    ws.updated_at = now
    snapshot = _snapshot_of(op)
    if snapshot is not None and action is OperationType.SNAPSHOT:
        snapshot.size_bytes = outcome.size_bytes
        if snapshot.status == SnapshotStatus.CREATING.value:  # a delete may have come first
            snapshot.status = SnapshotStatus.READY.value
    elif snapshot is not None and action is OperationType.SNAPSHOT_DELETE:
        snapshot.deleted_at = now
    return True


def _drop_snapshots(workspace_id: str, now: Any, keep: str | None = None) -> None:
    Snapshot = active().entities.Snapshot
    for snapshot in Snapshot.select(
        lambda s: s.workspace_id == workspace_id and s.deleted_at is None and s.id != keep
    ):
        snapshot.deleted_at = now


@write_session
def fail_operation(operation_id: str, error: str) -> bool:
    """Record failure; the workspace goes where the transition table says a failure leaves it."""
    Operation, Workspace = active().entities.Operation, active().entities.Workspace
    op = Operation.get(id=operation_id)
    if op is None or op.status not in (RUNNING, PENDING):
        return False
    _apply_failure(op, Workspace.get(id=op.workspace_id), error, utcnow())
    return True


def _apply_failure(op: Any, ws: Any, error: str, now: Any) -> None:
    _finish(op, OperationStatus.FAILED, now, error)
    action = OperationType(op.operation_type)
    fallback, expected = failure_status(action), transitional_status(action)
    in_transition = ws is not None and expected is not None and ws.status == expected.value
    if in_transition and fallback is not None:
        ws.status = fallback.value
        ws.error_message = error
        ws.updated_at = now
    snapshot = _snapshot_of(op)
    kept = action is OperationType.DELETE and keep_for(op) > 0
    if snapshot is not None and (action is OperationType.SNAPSHOT or kept):
        snapshot.status = SnapshotStatus.FAILED.value
        snapshot.error = error
    if kept and in_transition and op.requested_by == "janitor":
        # Its final snapshot failed, so the workspace stays; with its expiry cleared the
        # janitor does not try again every run: the owner decides (docs/trash.md).
        ws.expires_at = None


@write_session
def release_operation(operation_id: str) -> None:
    """Give a claimed operation back (running -> pending) so that a retry can claim it."""
    op = active().entities.Operation.get(id=operation_id)
    if op is not None and op.status == RUNNING:
        op.status = PENDING
        op.heartbeat_at = None
        op.enqueued_at = utcnow()


@write_session
def touch_operations(operation_ids: list[str]) -> None:
    """Heartbeat: the worker holding these operations is alive."""
    now = utcnow()
    Operation = active().entities.Operation
    for op in Operation.select(lambda o: o.id in operation_ids and o.status == RUNNING):
        op.heartbeat_at = now


@write_session
def mark_vanished(workspace_id: str, message: str) -> bool:
    """A running workspace whose resource disappeared behind our back becomes failed."""
    ws = active().entities.Workspace.get(id=workspace_id)
    if ws is None or ws.status != WorkspaceStatus.RUNNING.value:
        return False
    ws.status = WorkspaceStatus.FAILED.value
    ws.error_message = message
    ws.updated_at = utcnow()
    return True
