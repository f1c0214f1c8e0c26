"""Pony entities mapped onto the tables that `migrations/` creates (Pony never creates them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pony.orm import Database, Optional, PrimaryKey, Required


@dataclass(frozen=True)
class Entities:
    Workspace: Any
    Operation: Any
    Snapshot: Any


def define_entities(db: Database) -> Entities:
    """Declare the entities on `db`. A factory, so that each test can bind a fresh database."""

    class Workspace(db.Entity):  # type: ignore[name-defined]
        _table_ = "workspaces"
        id = PrimaryKey(str, column="id")
        owner = Required(str, column="owner")
        name = Required(str, column="name")
        repo_url = Optional(str, column="repo_url", nullable=True)
        template = Optional(str, column="template", nullable=True)
        provider = Required(str, column="provider")
        status = Required(str, column="status")
        created_at = Required(datetime, column="created_at")
        updated_at = Required(datetime, column="updated_at")
        ttl_seconds = Optional(int, column="ttl_seconds", nullable=True)
        expires_at = Optional(datetime, column="expires_at", nullable=True)
        metadata_json = Required(str, column="metadata")
        provider_id = Optional(str, column="provider_id", nullable=True)
        connection_info_json = Optional(str, column="connection_info", nullable=True)
        error_message = Optional(str, column="error_message", nullable=True)
        cpus = Optional(float, column="cpus", nullable=True)
        memory_mb = Optional(int, column="memory_mb", nullable=True)
        deleted_at = Optional(datetime, column="deleted_at", nullable=True)
        repo_ref = Optional(str, column="repo_ref", nullable=True)
        schedule_json = Optional(str, column="schedule", nullable=True)
        schedule_checked_at = Optional(datetime, column="schedule_checked_at", nullable=True)
        idle_timeout_seconds = Optional(int, column="idle_timeout_seconds", nullable=True)
        last_activity_at = Optional(datetime, column="last_activity_at", nullable=True)
        trash_snapshot_id = Optional(str, column="trash_snapshot_id", nullable=True)
        purge_after = Optional(datetime, column="purge_after", nullable=True)
        host = Optional(str, column="host", nullable=True)
        host_unreachable = Optional(str, column="host_unreachable", nullable=True)

    class Operation(db.Entity):  # type: ignore[name-defined]
        _table_ = "operations"
        id = PrimaryKey(str, column="id")
        workspace_id = Required(str, column="workspace_id")
        owner = Required(str, column="owner")
        operation_type = Required(str, column="operation_type")
        status = Required(str, column="status")
        started_at = Required(datetime, column="started_at")
        completed_at = Optional(datetime, column="completed_at", nullable=True)
        error = Optional(str, column="error", nullable=True)
        attempts = Required(int, column="attempts", default=0)
        enqueued_at = Optional(datetime, column="enqueued_at", nullable=True)
        heartbeat_at = Optional(datetime, column="heartbeat_at", nullable=True)
        target_id = Optional(str, column="target_id", nullable=True)
        requested_by = Optional(str, column="requested_by", nullable=True)
        reason = Optional(str, column="reason", nullable=True)
        detail_json = Optional(str, column="detail", nullable=True)
        progress = Optional(str, column="progress", nullable=True)
        task_ids_json = Optional(str, column="task_ids", nullable=True)
        request_id = Optional(str, column="request_id", nullable=True)

    class Snapshot(db.Entity):  # type: ignore[name-defined]
        _table_ = "snapshots"
        id = PrimaryKey(str, column="id")
        workspace_id = Required(str, column="workspace_id")
        owner = Required(str, column="owner")
        name = Required(str, column="name")
        status = Required(str, column="status")
        created_at = Required(datetime, column="created_at")
        size_bytes = Optional(int, column="size_bytes", nullable=True)
        error = Optional(str, column="error", nullable=True)
        deleted_at = Optional(datetime, column="deleted_at", nullable=True)

    return Entities(Workspace=Workspace, Operation=Operation, Snapshot=Snapshot)
