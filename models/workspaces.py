"""Reading and changing workspaces on behalf of an API caller."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pony.orm import count, db_session

from models.errors import InvalidTransition, NameTaken, NotFound, QuotaExceeded
from models.hosts import place_workspace
from models.reads import select_workspace  # noqa: F401  (re-exported)
from models.records import OperationRecord, WorkspaceRecord, utcnow
from models.request_context import current_request_id
from models.states import (
    ACTIVE_STATUSES,
    OperationStatus,
    OperationType,
    WorkspaceStatus,
    can_apply,
    success_status,
    transitional_status,
)
from models.store import active, write_session

DELETED = WorkspaceStatus.DELETED.value


@dataclass(frozen=True)
class NewWorkspace:
    owner: str
    name: str
    provider: str
    repo_url: str | None = None
    repo_ref: str | None = None
    template: str | None = None
    ttl_seconds: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    cpus: float | None = None
    memory_mb: int | None = None
    schedule: dict[str, str] | None = None
    idle_timeout_seconds: int = 0  # resolved: the request's, the template's or the operator's


@dataclass(frozen=True)
class Limits:
    """Per-user limits; 0 means no limit."""

    max_workspaces: int = 0
    max_running: int = 0
    host_timeout: int = 30  # placement: how long a silent Docker host still counts as live


def new_operation(
    ws: Any,
    action: OperationType,
    now: datetime,
    target_id: str | None,
    requested_by: str | None = None,
    reason: str | None = None,
) -> Any:
    return active().entities.Operation(
        id=str(uuid.uuid4()),
        workspace_id=ws.id,
        owner=ws.owner,
        operation_type=action.value,
        status=OperationStatus.PENDING.value,
        started_at=now,
        target_id=target_id,
        requested_by=requested_by,
        reason=reason,
        # the request (or task) that asked for it: its log lines carry the same id
        request_id=current_request_id(),
    )


def live_count(owner: str, statuses: frozenset[WorkspaceStatus] | None = None) -> int:
    Workspace = active().entities.Workspace
    if statuses is None:
        return count(w for w in Workspace if w.owner == owner and w.status != DELETED)
    wanted = [s.value for s in statuses]
    return count(w for w in Workspace if w.owner == owner and w.status in wanted)


@write_session
def insert_workspace(new: NewWorkspace, limits: Limits) -> tuple[WorkspaceRecord, OperationRecord]:
    """Record a workspace in `creating` and its pending create operation, in one transaction.

    The session begins IMMEDIATE, so the uniqueness and quota checks cannot race another writer.
    """
    Workspace = active().entities.Workspace
    owner, name = new.owner, new.name
    if Workspace.exists(lambda w: w.owner == owner and w.name == name and w.status != DELETED):
        raise NameTaken(name)
    if limits.max_workspaces and live_count(new.owner) >= limits.max_workspaces:
        raise QuotaExceeded(f"workspace limit reached ({limits.max_workspaces} per user)")
    if limits.max_running and live_count(new.owner, ACTIVE_STATUSES) >= limits.max_running:
        raise QuotaExceeded(f"running workspace limit reached ({limits.max_running} per user)")
    # Under the same writer lock as the checks: a burst of creates spreads over the hosts.
    host = place_workspace(limits.host_timeout) if new.provider == "docker" else None
    now = utcnow()
    ws = Workspace(
        id=str(uuid.uuid4()),
        owner=new.owner,
        name=new.name,
        repo_url=new.repo_url,
        repo_ref=new.repo_ref,
        template=new.template,
        provider=new.provider,
        status=WorkspaceStatus.CREATING.value,
        created_at=now,
        updated_at=now,
        ttl_seconds=new.ttl_seconds,
        expires_at=now + timedelta(seconds=new.ttl_seconds) if new.ttl_seconds else None,
        metadata_json=json.dumps(new.metadata, separators=(",", ":")),
        cpus=new.cpus,
        memory_mb=new.memory_mb,
        schedule_json=json.dumps(new.schedule) if new.schedule else None,
        schedule_checked_at=now if new.schedule else None,
        idle_timeout_seconds=new.idle_timeout_seconds,
        last_activity_at=now,
        host=host,
    )
    op = new_operation(ws, OperationType.CREATE, now, None)
    return WorkspaceRecord.from_entity(ws), OperationRecord.from_entity(op)


def _visible(workspace_id: str, owner: str | None) -> Any:
    """The workspace if this caller may see it (owner None: an admin), else NotFound."""
    ws = active().entities.Workspace.get(id=workspace_id)
    if ws is None or ws.status == DELETED or (owner is not None and ws.owner != owner):
        raise NotFound(workspace_id)
    return ws


@write_session
def request_action(
    workspace_id: str,
    owner: str | None,
    action: OperationType,
    limits: Limits,
    target_id: str | None = None,
    *,
    requested_by: str | None = None,
    reason: str | None = None,
) -> tuple[WorkspaceRecord, OperationRecord]:
    """Move the workspace into the action's transitional status and record a pending operation.

    Delete wins: it cancels every pending operation of the workspace; one already running
    finishes first, because a worker claims only one operation per workspace at a time.
    """
    ws = _visible(workspace_id, owner)
    if not can_apply(action, WorkspaceStatus(ws.status)):
        raise InvalidTransition(action.value, ws.status)
    now = utcnow()
    # Every action that ends in `running` from a status that does not count (stopped,
    # failed) is a start as far as the limit goes: start, restart, rebuild, restore.
    brings_up = success_status(action) is WorkspaceStatus.RUNNING
    counted = WorkspaceStatus(ws.status) in ACTIVE_STATUSES
    if (
        limits.max_running
        and brings_up
        and not counted
        and (live_count(ws.owner, ACTIVE_STATUSES) >= limits.max_running)
    ):
        raise QuotaExceeded(f"running workspace limit reached ({limits.max_running} per user)")
    if action is OperationType.DELETE:
        _cancel_pending(ws.id, now)
    new_status = transitional_status(action)
    from_status = ws.status
    if new_status is not None:
        ws.status = new_status.value
        ws.updated_at = now
    if requested_by is None:  # a person's action is activity; the janitor's and schedule's not
        ws.last_activity_at = now
    op = new_operation(ws, action, now, target_id, requested_by, reason)
    if new_status is not None:
        # where a cancel before any work goes back to (models/task_control.py)
        op.detail_json = json.dumps({"from_status": from_status}, separators=(",", ":"))
    return WorkspaceRecord.from_entity(ws), OperationRecord.from_entity(op)


def _cancel_pending(workspace_id: str, now: datetime) -> None:
    Operation = active().entities.Operation
    pending = OperationStatus.PENDING.value
    for op in Operation.select(lambda o: o.workspace_id == workspace_id and o.status == pending):
        op.status = OperationStatus.FAILED.value
        op.error = "cancelled: the workspace was deleted"
        op.completed_at = now


UNSET: Any = object()


@write_session
def update_workspace(
    workspace_id: str,
    owner: str | None,
    name: str = UNSET,
    metadata: dict[str, Any] = UNSET,
    ttl_seconds: int | None = UNSET,
    schedule: dict[str, str] | None = UNSET,
    idle_timeout_seconds: int = UNSET,
) -> WorkspaceRecord:
    """Rename, replace metadata, extend/clear the TTL (counted from now), set/clear the
    schedule (its times count from now)."""
    ws = _visible(workspace_id, owner)
    if ws.status == WorkspaceStatus.DELETING.value:
        raise InvalidTransition("update", ws.status)
    now = utcnow()
    if name is not UNSET and name != ws.name:
        Workspace = active().entities.Workspace
        ws_owner = ws.owner
        if Workspace.exists(
            lambda w: w.owner == ws_owner and w.name == name and w.status != DELETED
        ):
            raise NameTaken(name)
        ws.name = name
    if metadata is not UNSET:
        ws.metadata_json = json.dumps(metadata, separators=(",", ":"))
    if ttl_seconds is not UNSET:
        ws.ttl_seconds = ttl_seconds
        ws.expires_at = now + timedelta(seconds=ttl_seconds) if ttl_seconds else None
    if schedule is not UNSET:
        ws.schedule_json = json.dumps(schedule) if schedule else None
        ws.schedule_checked_at = now if schedule else None
    if idle_timeout_seconds is not UNSET:
        ws.idle_timeout_seconds = idle_timeout_seconds
    ws.updated_at = now
    ws.last_activity_at = now
    return WorkspaceRecord.from_entity(ws)


@db_session
def usage(owner: str) -> dict[str, int]:
    return {"workspaces": live_count(owner), "running": live_count(owner, ACTIVE_STATUSES)}
