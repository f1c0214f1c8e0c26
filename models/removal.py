"""Force delete: a workspace taken out of the database at once, whatever its provider says.

For a workspace whose provider keeps refusing to remove it (a daemon that errors, a container
that will not die): the person gets their name and quota back now, and what the provider still
holds is left to drift repair (tasks/janitor.py), which removes resources of no live workspace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from models.errors import NotFound
from models.records import WorkspaceRecord, utcnow
from models.states import OperationStatus, OperationType, WorkspaceStatus
from models.store import active, write_session

FORCED = "force delete: removed from the database; drift repair removes what the provider holds"


@dataclass(frozen=True)
class ForceDeleted:
    workspace: WorkspaceRecord
    operation_id: str
    cancelled: int  # pending or running operations that will not finish now


@write_session
def force_delete_workspace(workspace_id: str, owner: str | None, user: str) -> ForceDeleted:
    Workspace, Operation = active().entities.Workspace, active().entities.Operation
    ws = Workspace.get(id=workspace_id)
    if ws is None or ws.status == WorkspaceStatus.DELETED.value:
        raise NotFound(workspace_id)
    if owner is not None and ws.owner != owner:
        raise NotFound(workspace_id)
    now = utcnow()
    unfinished = (OperationStatus.PENDING.value, OperationStatus.RUNNING.value)
    cancelled = 0
    for op in Operation.select(lambda o: o.workspace_id == workspace_id and o.status in unfinished):
        # A worker still running one finds it no longer running and records nothing over this.
        op.status = OperationStatus.CANCELLED.value
        op.error = f"cancelled: the workspace was force-deleted by {user}"
        op.completed_at = now
        op.heartbeat_at = None
        cancelled += 1
    for snapshot in active().entities.Snapshot.select(
        lambda s: s.workspace_id == workspace_id and s.deleted_at is None
    ):
        snapshot.deleted_at = now
    ws.status = WorkspaceStatus.DELETED.value
    ws.deleted_at = now
    ws.updated_at = now
    op = Operation(
        id=str(uuid.uuid4()),
        workspace_id=workspace_id,
        owner=ws.owner,
        operation_type=OperationType.DELETE.value,
        status=OperationStatus.SUCCESS.value,
        started_at=now,
        completed_at=now,
        attempts=0,
        requested_by=user,
        reason=FORCED,
    )
    return ForceDeleted(WorkspaceRecord.from_entity(ws), op.id, cancelled)
