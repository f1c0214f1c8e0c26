"""The read path of the API in plain SQL, straight into records.

Building a Pony entity per row cost about seven times the query itself on a list of 50
(bench/api_throughput.py), so reads skip the identity map; writes keep using entities.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pony.orm import db_session

from models.dialect import workspace_json
from models.errors import NotFound
from models.pagination import decode_cursor, next_cursor
from models.records import OperationRecord, Page, WorkspaceRecord, sql_time
from models.store import active

WORKSPACE_COLUMNS = (
    "id, name, owner, repo_url, template, provider, status, created_at, updated_at, "
    "ttl_seconds, expires_at, metadata, provider_id, connection_info, error_message, cpus, "
    "memory_mb, repo_ref, schedule, idle_timeout_seconds, last_activity_at, host, "
    "host_unreachable"
)
OPERATION_COLUMNS = (
    "id, workspace_id, owner, operation_type, status, started_at, completed_at, error, "
    "attempts, target_id, requested_by, reason, detail, progress, task_ids, request_id"
)


def stored_moment(value: Any) -> datetime | None:
    """SQLite hands back Pony's text form; other engines a datetime already."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def workspace_from_row(row: tuple[Any, ...]) -> WorkspaceRecord:
    (id_, name, owner, repo_url, template, provider, status, created, updated, ttl, expires,
     metadata, provider_id, connection_info, error_message, cpus, memory_mb,
     repo_ref, schedule, idle_timeout, last_activity, host, host_unreachable) = row  # fmt: skip
    return WorkspaceRecord(
        id=id_,
        name=name,
        owner=owner,
        repo_url=repo_url,
        template=template,
        provider=provider,
        status=status,
        created_at=stored_moment(created),  # type: ignore[arg-type]
        updated_at=stored_moment(updated),  # type: ignore[arg-type]
        ttl_seconds=ttl,
        expires_at=stored_moment(expires),
        metadata=json.loads(metadata),
        provider_id=provider_id,
        connection_info=json.loads(connection_info) if connection_info else None,
        error_message=error_message,
        cpus=cpus,
        memory_mb=memory_mb,
        repo_ref=repo_ref,
        schedule=json.loads(schedule) if schedule else None,
        idle_timeout_seconds=idle_timeout,
        last_activity_at=stored_moment(last_activity),
        host=host,
        host_unreachable=host_unreachable,
    )


def operation_from_row(row: tuple[Any, ...]) -> OperationRecord:
    (id_, workspace_id, owner, kind, status, started, completed, error, attempts,
     target_id, requested_by, reason, detail, progress, task_ids, request_id) = row  # fmt: skip
    return OperationRecord(
        id=id_,
        workspace_id=workspace_id,
        owner=owner,
        operation_type=kind,
        status=status,
        started_at=stored_moment(started),  # type: ignore[arg-type]
        completed_at=stored_moment(completed),
        error=error,
        attempts=attempts,
        target_id=target_id,
        requested_by=requested_by,
        reason=reason,
        detail=json.loads(detail) if detail else None,
        progress=progress,
        task_ids=tuple(json.loads(task_ids)) if task_ids else (),
        request_id=request_id,
    )


@db_session
def _select(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    return list(active().db.select(sql, {}, params))


def select_page(
    table: str,
    columns: str,
    moment_column: str,
    conditions: dict[str, Any],
    limit: int,
    cursor: str | None,
    extra_where: str = "",
) -> list[tuple[Any, ...]]:
    """Newest first by (moment, id); `conditions` are equality filters, None ones skipped.

    Column names come from this module, never from a request: only values are parameters.
    """
    where = [f"{column} = ${column}" for column, value in conditions.items() if value is not None]
    params = {column: value for column, value in conditions.items() if value is not None}
    if extra_where:
        where.append(extra_where)
    if cursor is not None:
        before, before_id = decode_cursor(cursor)
        where.append(
            f"({moment_column} < $before OR ({moment_column} = $before AND id < $before_id))"
        )
        params.update(before=sql_time(before), before_id=before_id)
    params["fetch"] = limit + 1
    sql = (
        f"SELECT {columns} FROM {table}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {moment_column} DESC, id DESC LIMIT $fetch"
    )
    return _select(sql, params)


def _visible_row(
    columns: str, table: str, row_id: str, owner: str | None, live_only: bool = True
) -> tuple[Any, ...]:
    """One row by id, if the caller may see it (owner None: an admin), else NotFound.

    The owner is the row's last column, whatever `columns` asks for first.
    """
    where = "id = $id AND status <> 'deleted'" if live_only else "id = $id"
    rows = _select(f"SELECT {columns}, owner FROM {table} WHERE {where}", {"id": row_id})
    if not rows or (owner is not None and rows[0][-1] != owner):
        raise NotFound(row_id)
    return rows[0][:-1]


def select_workspace(workspace_id: str, owner: str | None) -> WorkspaceRecord:
    return workspace_from_row(_visible_row(WORKSPACE_COLUMNS, "workspaces", workspace_id, owner))


def workspace_was_deleted(workspace_id: str, owner: str | None) -> bool:
    """Whether the caller may see this workspace and its delete has finished."""
    try:
        (status,) = _visible_row("status", "workspaces", workspace_id, owner, live_only=False)
    except NotFound:
        return False
    return bool(status == "deleted")


def select_workspace_json(workspace_id: str, owner: str | None) -> str:
    """The workspace as JSON text, for GET /api/v1/workspaces/{id}."""
    return str(_visible_row(workspace_json(), "workspaces", workspace_id, owner)[0])


def select_workspaces_json(
    owner: str | None, status: str | None, limit: int, cursor: str | None
) -> tuple[str, str | None]:
    """A page of workspaces as a JSON array text, and the next page's cursor."""
    rows = select_page(
        "workspaces",
        f"{workspace_json()}, created_at, id",
        "created_at",
        {"owner": owner, "status": status},
        limit,
        cursor,
        extra_where="status <> 'deleted'",
    )
    body = "[" + ",".join(row[0] for row in rows[:limit]) + "]"
    return body, next_cursor(rows, limit, _created_and_id)


def _created_and_id(row: tuple[Any, ...]) -> tuple[datetime, str]:
    """A JSON page row's position: its last two columns (created_at is never NULL)."""
    return stored_moment(row[1]), row[2]  # type: ignore[return-value]


def select_operation(operation_id: str, owner: str | None) -> OperationRecord:
    row = _visible_row(OPERATION_COLUMNS, "operations", operation_id, owner, live_only=False)
    return operation_from_row(row)


def select_operations(
    owner: str | None,
    workspace_id: str | None,
    operation_type: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """Operations outlive their workspace, so a deleted one's history stays here."""
    conditions = {
        "owner": owner,
        "workspace_id": workspace_id,
        "operation_type": operation_type,
        "status": status,
    }
    rows = select_page("operations", OPERATION_COLUMNS, "started_at", conditions, limit, cursor)
    records = [operation_from_row(row) for row in rows]
    return Page(
        items=records[:limit],
        next_cursor=next_cursor(records, limit, lambda record: (record.started_at, record.id)),
    )
