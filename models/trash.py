"""The trash: a deleted workspace kept with a final snapshot (container and volume) for a while.

A keeping delete is a normal delete operation whose `detail` says how long to keep
(`{"keep_for": seconds}`) and whose `target_id` is the final snapshot's id: the worker takes the
snapshot, then removes everything else. When it succeeds the workspace row is `deleted` (its
name and quota are free) and carries `trash_snapshot_id` and `purge_after`. Restoring un-deletes
the row and restores the snapshot; purging (by hand, or the janitor after `purge_after`) is a
delete operation with `{"purge": true}` that removes what the provider still holds.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from pony.orm import db_session, desc

from models.errors import InvalidTransition, NameTaken, NotFound, QuotaExceeded
from models.records import OperationRecord, SnapshotRecord, WorkspaceRecord, rfc3339, utcnow
from models.states import (
    ACTIVE_STATUSES,
    OperationType,
    SnapshotStatus,
    WorkspaceStatus,
)
from models.store import active, write_session
from models.workspaces import Limits, live_count, new_operation, request_action, usage

KEEP_FOR = "keep_for"  # detail of a delete that keeps the workspace in the trash
PURGE = "purge"  # detail of a delete that removes a trash entry's leftovers
# Statuses whose workspace can be snapshotted, so kept: its container (or folder) is whole.
KEEPABLE = frozenset({WorkspaceStatus.RUNNING, WorkspaceStatus.STOPPED})
FINAL_SNAPSHOT_NAME = "before-delete"
PURGE_BATCH = 500
DELETED = WorkspaceStatus.DELETED.value


def _detail(op: Any) -> dict[str, Any]:
    return json.loads(op.detail_json) if op.detail_json else {}


def keep_for(op: Any) -> int:
    """Seconds a delete operation keeps its workspace in the trash; 0 for a plain delete."""
    return int(_detail(op).get(KEEP_FOR) or 0)


def is_purge(op: Any) -> bool:
    return bool(_detail(op).get(PURGE))


def final_snapshot(workspace_id: str, owner: str, snapshot_id: str, now: datetime) -> Any:
    return active().entities.Snapshot(
        id=snapshot_id,
        workspace_id=workspace_id,
        owner=owner,
        name=FINAL_SNAPSHOT_NAME,
        status=SnapshotStatus.CREATING.value,
        created_at=now,
    )


@write_session
def request_kept_delete(
    workspace_id: str,
    owner: str | None,
    retention: int,
    *,
    requested_by: str | None = None,
    reason: str | None = None,
) -> tuple[WorkspaceRecord, OperationRecord]:
    """A delete that first takes a final snapshot and keeps it for `retention` seconds."""
    ws = active().entities.Workspace.get(id=workspace_id)
    visible = ws is not None and ws.status != DELETED and (owner is None or ws.owner == owner)
    if visible and WorkspaceStatus(ws.status) not in KEEPABLE:
        raise InvalidTransition("keep", ws.status)  # not a snapshot of a whole workspace
    snapshot_id = str(uuid.uuid4())
    record, op_record = request_action(
        workspace_id,
        owner,
        OperationType.DELETE,
        Limits(),
        snapshot_id,
        requested_by=requested_by,
        reason=reason,
    )
    op = active().entities.Operation[op_record.id]
    op.detail_json = json.dumps({KEEP_FOR: retention})
    final_snapshot(record.id, record.owner, snapshot_id, utcnow())
    return record, OperationRecord.from_entity(op)


def keep_in_trash(ws: Any, op: Any, size_bytes: int | None, now: datetime) -> str | None:
    """On a keeping delete's success: the final snapshot becomes the trash entry's. Returns
    the id of the snapshot kept (None for a plain delete)."""
    retention = keep_for(op)
    snapshot = active().entities.Snapshot.get(id=op.target_id) if op.target_id else None
    if not retention or snapshot is None:
        return None
    snapshot.status = SnapshotStatus.READY.value
    snapshot.size_bytes = size_bytes
    ws.trash_snapshot_id = snapshot.id
    ws.purge_after = now + timedelta(seconds=retention)
    return str(snapshot.id)


def _trashed(workspace_id: str, owner: str | None) -> Any:
    ws = active().entities.Workspace.get(id=workspace_id)
    if ws is None or ws.status != DELETED or ws.trash_snapshot_id is None:
        raise NotFound(workspace_id)
    if owner is not None and ws.owner != owner:
        raise NotFound(workspace_id)
    return ws


def trash_entry(ws: Any, snapshot: Any, deletion: Any) -> dict[str, Any]:
    """How the API shows one entry: under the deleted workspace's id."""
    return {
        "id": ws.id,
        "name": ws.name,
        "owner": ws.owner,
        "deleted_at": rfc3339(ws.deleted_at),
        "purge_after": rfc3339(ws.purge_after),
        "deleted_by": (deletion.requested_by or deletion.owner) if deletion else None,
        "reason": deletion.reason if deletion else None,
        "size_bytes": snapshot.size_bytes if snapshot else None,
        "snapshot": SnapshotRecord.from_entity(snapshot).to_json() if snapshot else None,
        "workspace": WorkspaceRecord.from_entity(ws).to_json(),
    }


def _deletion_of(ws: Any) -> Any:
    Operation = active().entities.Operation
    snapshot_id, workspace_id = ws.trash_snapshot_id, ws.id
    return Operation.get(
        lambda o: (
            o.workspace_id == workspace_id
            and o.operation_type == "delete"
            and o.target_id == snapshot_id
        )
    )


@db_session
def select_trash(owner: str | None) -> list[dict[str, Any]]:
    """The caller's trash (an admin's: everyone's), newest deletion first."""
    Workspace, Snapshot = active().entities.Workspace, active().entities.Snapshot
    rows = Workspace.select(lambda w: w.status == DELETED and w.trash_snapshot_id is not None)
    if owner is not None:
        rows = rows.filter(lambda w: w.owner == owner)
    return [
        trash_entry(ws, Snapshot.get(id=ws.trash_snapshot_id), _deletion_of(ws))
        for ws in rows.order_by(lambda w: (desc(w.deleted_at), desc(w.id)))
    ]


@db_session
def select_trash_entry(workspace_id: str, owner: str | None) -> dict[str, Any]:
    ws = _trashed(workspace_id, owner)
    snapshot = active().entities.Snapshot.get(id=ws.trash_snapshot_id)
    return trash_entry(ws, snapshot, _deletion_of(ws))


@write_session
def restore_from_trash(
    workspace_id: str, owner: str | None, name: str | None, limits: Limits
) -> tuple[WorkspaceRecord, OperationRecord]:
    """Un-delete the workspace (under its old name or `name`) and restore its final snapshot.
    It counts against the limits again as a new workspace would; its TTL starts over."""
    ws = _trashed(workspace_id, owner)
    Workspace = active().entities.Workspace
    wanted, ws_owner = name or ws.name, ws.owner
    if Workspace.exists(lambda w: w.owner == ws_owner and w.name == wanted and w.status != DELETED):
        raise NameTaken(wanted)
    if limits.max_workspaces and live_count(ws_owner) >= limits.max_workspaces:
        raise QuotaExceeded(f"workspace limit reached ({limits.max_workspaces} per user)")
    if limits.max_running and live_count(ws_owner, ACTIVE_STATUSES) >= limits.max_running:
        raise QuotaExceeded(f"running workspace limit reached ({limits.max_running} per user)")
    now = utcnow()
    snapshot_id = ws.trash_snapshot_id
    ws.name = wanted
    ws.status = WorkspaceStatus.RESTORING.value
    ws.deleted_at = ws.trash_snapshot_id = ws.purge_after = None
    ws.error_message = None
    ws.expires_at = now + timedelta(seconds=ws.ttl_seconds) if ws.ttl_seconds else None
    ws.updated_at = ws.last_activity_at = now
    op = new_operation(
        ws, OperationType.SNAPSHOT_RESTORE, now, snapshot_id, reason="restored from the trash"
    )
    return WorkspaceRecord.from_entity(ws), OperationRecord.from_entity(op)


def _purge(ws: Any, now: datetime, requested_by: str | None, reason: str) -> Any:
    snapshot = active().entities.Snapshot.get(id=ws.trash_snapshot_id)
    if snapshot is not None:
        snapshot.deleted_at = now
    ws.trash_snapshot_id = ws.purge_after = None
    ws.updated_at = now
    op = new_operation(ws, OperationType.DELETE, now, None, requested_by, reason)
    op.detail_json = json.dumps({PURGE: True})
    return op


@write_session
def purge_from_trash(
    workspace_id: str, owner: str | None, requested_by: str | None = None
) -> OperationRecord:
    """Take the entry out of the trash now; the returned operation removes what is left."""
    ws = _trashed(workspace_id, owner)
    op = _purge(ws, utcnow(), requested_by, "purged from the trash")
    return OperationRecord.from_entity(op)


@write_session
def purge_due_trash(limit: int = PURGE_BATCH) -> list[tuple[str, str]]:
    """The janitor's part: entries past their retention go; (operation id, type) to enqueue."""
    now = utcnow()
    Workspace = active().entities.Workspace
    due = Workspace.select(
        lambda w: w.trash_snapshot_id is not None and w.purge_after <= now
    ).limit(limit)
    ops = [_purge(ws, now, "janitor", "trash retention over") for ws in due]
    return [(op.id, op.operation_type) for op in ops]


@db_session
def usage_with_trash(owner: str) -> dict[str, int]:
    """Live and running workspaces (what the limits count), then what the trash holds."""
    return {**usage(owner), **trash_usage(owner)}


@db_session
def trash_usage(owner: str) -> dict[str, int]:
    """What a person's trash holds: entries and the bytes of their snapshots."""
    Workspace, Snapshot = active().entities.Workspace, active().entities.Snapshot
    kept = [
        ws.trash_snapshot_id
        for ws in Workspace.select(
            lambda w: w.owner == owner and w.status == DELETED and w.trash_snapshot_id is not None
        )
    ]
    sizes = [s.size_bytes or 0 for s in Snapshot.select(lambda s: s.id in kept)] if kept else []
    return {"trash": len(kept), "trash_bytes": sum(sizes)}
