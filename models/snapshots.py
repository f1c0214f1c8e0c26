"""Snapshots of a workspace, recorded together with the operation that makes or uses them."""

from __future__ import annotations

import uuid
from typing import Any

from pony.orm import db_session

from models.errors import InvalidTransition, NotFound
from models.records import OperationRecord, SnapshotRecord, WorkspaceRecord, utcnow
from models.states import OperationType, SnapshotStatus
from models.store import active, write_session
from models.workspaces import Limits, _visible, request_action


@write_session
def insert_snapshot(
    workspace_id: str, owner: str | None, name: str
) -> tuple[SnapshotRecord, OperationRecord]:
    snapshot_id = str(uuid.uuid4())
    ws, op = request_action(workspace_id, owner, OperationType.SNAPSHOT, Limits(), snapshot_id)
    snapshot = active().entities.Snapshot(
        id=snapshot_id,
        workspace_id=ws.id,
        owner=ws.owner,
        name=name,
        status=SnapshotStatus.CREATING.value,
        created_at=utcnow(),
    )
    return SnapshotRecord.from_entity(snapshot), op


def _visible_snapshot(workspace_id: str, snapshot_id: str) -> Any:
    snapshot = active().entities.Snapshot.get(id=snapshot_id)
    if snapshot is None or snapshot.workspace_id != workspace_id or snapshot.deleted_at:
        raise NotFound(snapshot_id)
    return snapshot


@db_session
def select_snapshots(workspace_id: str, owner: str | None) -> list[SnapshotRecord]:
    _visible(workspace_id, owner)
    Snapshot = active().entities.Snapshot
    rows = Snapshot.select(lambda s: s.workspace_id == workspace_id and s.deleted_at is None)
    return [SnapshotRecord.from_entity(s) for s in rows.order_by(lambda s: s.created_at)]


@write_session
def request_snapshot_action(
    workspace_id: str, snapshot_id: str, owner: str | None, action: OperationType
) -> tuple[WorkspaceRecord, OperationRecord]:
    """Restore from, or delete, a snapshot; restoring needs one that is ready."""
    _visible(workspace_id, owner)
    snapshot = _visible_snapshot(workspace_id, snapshot_id)
    if action is OperationType.SNAPSHOT_RESTORE and snapshot.status != SnapshotStatus.READY.value:
        raise InvalidTransition("restore from", snapshot.status, snapshot=True)
    if action is OperationType.SNAPSHOT_DELETE:
        if snapshot.status == SnapshotStatus.DELETING.value:
            raise InvalidTransition("delete", snapshot.status, snapshot=True)
        snapshot.status = SnapshotStatus.DELETING.value
    return request_action(workspace_id, owner, action, Limits(), snapshot_id)
