"""The operation history of a person's direct use of a workspace (exec, terminal, files).

Such work is never queued: the web process does it and records it here, once when it begins
(status `running`) and once when it ends, so the history shows who ran what even if the
process dies half-way (the sweep of running operations then fails it, as for any other).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pony.orm import db_session

from models.records import OperationRecord, utcnow
from models.states import AccessType, OperationStatus
from models.store import active


@db_session
def begin_access(
    workspace_id: str,
    owner: str,
    kind: AccessType,
    requested_by: str,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> OperationRecord:
    """A `running` operation of type `kind` on the workspace, started now by `requested_by`."""
    now = utcnow()
    workspace = active().entities.Workspace.get(id=workspace_id)
    if workspace is not None:
        workspace.last_activity_at = now  # using it is activity (models/activity.py)
    op = active().entities.Operation(
        id=str(uuid.uuid4()),
        workspace_id=workspace_id,
        owner=owner,
        operation_type=kind.value,
        status=OperationStatus.RUNNING.value,
        started_at=now,
        heartbeat_at=now,
        attempts=1,
        requested_by=requested_by,
        detail_json=json.dumps(detail) if detail is not None else None,
        request_id=request_id,
    )
    return OperationRecord.from_entity(op)


@db_session
def finish_access(
    operation_id: str, *, error: str | None = None, detail: dict[str, Any] | None = None
) -> OperationRecord:
    """Success, or failure with `error`; `detail` is merged into what begin_access recorded."""
    op = active().entities.Operation[operation_id]
    workspace = active().entities.Workspace.get(id=op.workspace_id)
    if workspace is not None:
        workspace.last_activity_at = utcnow()
    op.status = (OperationStatus.FAILED if error else OperationStatus.SUCCESS).value
    op.completed_at = utcnow()
    op.error = error
    if detail:
        merged = json.loads(op.detail_json) if op.detail_json else {}
        merged.update(detail)
        op.detail_json = json.dumps(merged)
    return OperationRecord.from_entity(op)
