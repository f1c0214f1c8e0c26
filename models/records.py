"""Plain dataclasses that leave the data layer; handlers and tasks never see Pony entities."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    """Naive UTC: what the database stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def sql_time(moment: datetime) -> str:
    """The text form Pony stores datetimes in on SQLite. Raw SQL must compare against exactly
    this form: Pony renders datetime parameters differently ('T' separator), which would break
    the lexical comparison of timestamps."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds") + "Z"  # isoformat: far cheaper than strftime


@dataclass(frozen=True)
class WorkspaceRecord:
    id: str
    name: str
    owner: str
    repo_url: str | None
    template: str | None
    provider: str
    status: str
    created_at: datetime
    updated_at: datetime
    ttl_seconds: int | None
    expires_at: datetime | None
    metadata: dict[str, Any]
    provider_id: str | None
    connection_info: dict[str, Any] | None
    error_message: str | None
    cpus: float | None
    memory_mb: int | None
    repo_ref: str | None = None
    schedule: dict[str, str] | None = None
    idle_timeout_seconds: int | None = None
    last_activity_at: datetime | None = None
    host: str | None = None  # the Docker host it lives on (None: the service's DOCKER_HOST)
    host_unreachable: str | None = None  # why that host cannot be reached now

    @classmethod
    def from_entity(cls, w: Any) -> WorkspaceRecord:
        return cls(
            id=w.id,
            name=w.name,
            owner=w.owner,
            repo_url=w.repo_url,
            template=w.template,
            provider=w.provider,
            status=w.status,
            created_at=w.created_at,
            updated_at=w.updated_at,
            ttl_seconds=w.ttl_seconds,
            expires_at=w.expires_at,
            metadata=json.loads(w.metadata_json),
            provider_id=w.provider_id,
            connection_info=json.loads(w.connection_info_json) if w.connection_info_json else None,
            error_message=w.error_message,
            cpus=w.cpus,
            memory_mb=w.memory_mb,
            repo_ref=w.repo_ref,
            schedule=json.loads(w.schedule_json) if w.schedule_json else None,
            idle_timeout_seconds=w.idle_timeout_seconds,
            last_activity_at=w.last_activity_at,
            host=w.host,
            host_unreachable=w.host_unreachable,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "repo_url": self.repo_url,
            "template": self.template,
            "provider": self.provider,
            "status": self.status,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "ttl_seconds": self.ttl_seconds,
            "expires_at": rfc3339(self.expires_at),
            "metadata": self.metadata,
            "provider_id": self.provider_id,
            "connection_info": self.connection_info,
            "error_message": self.error_message,
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "repo_ref": self.repo_ref,
            "schedule": self.schedule,
            "idle_timeout_seconds": self.idle_timeout_seconds,
            "last_activity_at": rfc3339(self.last_activity_at),
            "host": self.host,
            "host_unreachable": self.host_unreachable,
        }


@dataclass(frozen=True)
class OperationRecord:
    id: str
    workspace_id: str
    owner: str
    operation_type: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    error: str | None
    attempts: int
    target_id: str | None
    requested_by: str | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None
    progress: str | None = None
    task_ids: tuple[str, ...] = ()
    request_id: str | None = None

    @classmethod
    def from_entity(cls, o: Any) -> OperationRecord:
        return cls(
            id=o.id,
            workspace_id=o.workspace_id,
            owner=o.owner,
            operation_type=o.operation_type,
            status=o.status,
            started_at=o.started_at,
            completed_at=o.completed_at,
            error=o.error,
            attempts=o.attempts,
            target_id=o.target_id,
            requested_by=o.requested_by,
            reason=o.reason,
            detail=json.loads(o.detail_json) if o.detail_json else None,
            progress=o.progress,
            task_ids=tuple(json.loads(o.task_ids_json)) if o.task_ids_json else (),
            request_id=o.request_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "operation_type": self.operation_type,
            "status": self.status,
            "started_at": rfc3339(self.started_at),
            "completed_at": rfc3339(self.completed_at),
            "error": self.error,
            "attempts": self.attempts,
            "snapshot_id": self.target_id,
            "requested_by": self.requested_by or self.owner,
            "reason": self.reason,
            "detail": self.detail,
            "progress": self.progress,
            "task_ids": list(self.task_ids),
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class SnapshotRecord:
    id: str
    workspace_id: str
    owner: str
    name: str
    status: str
    created_at: datetime
    size_bytes: int | None
    error: str | None

    @classmethod
    def from_entity(cls, s: Any) -> SnapshotRecord:
        return cls(
            id=s.id,
            workspace_id=s.workspace_id,
            owner=s.owner,
            name=s.name,
            status=s.status,
            created_at=s.created_at,
            size_bytes=s.size_bytes,
            error=s.error,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "name": self.name,
            "status": self.status,
            "created_at": rfc3339(self.created_at),
            "size_bytes": self.size_bytes,
            "error": self.error,
        }


@dataclass(frozen=True)
class Page:
    """One page of a list and the cursor of the next one (None on the last page)."""

    items: list[Any]
    next_cursor: str | None
