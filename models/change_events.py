"""The change feed in the database: rows that triggers write for every workspace status change
and every operation start, progress line and end (migration 0008), read in id order.

Readers never see an event before the change it describes is committed, and an event's id is
a position the stream can resume from (SSE `Last-Event-ID`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pony.orm import db_session

from models.dialect import workspace_json
from models.reads import OPERATION_COLUMNS, operation_from_row
from models.store import active

# Events older than this are purged by the janitor; a stream resuming from further back starts
# from the oldest one kept (it then misses nothing it could still be told about).
RETENTION_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    id: int
    type: str  # workspace.status, workspace.deleted, operation.created|started|progress|finished
    workspace_id: str
    owner: str
    data: str  # the event's JSON text


def _event_type(kind: str, status: str) -> str:
    if kind == "workspace":
        return "workspace.deleted" if status == "deleted" else "workspace.status"
    if kind == "progress":
        return "operation.progress"
    return {"pending": "operation.created", "running": "operation.started"}.get(
        status, "operation.finished"
    )


@db_session
def last_event_id() -> int:
    rows = active().db.select("SELECT COALESCE(MAX(id), 0) FROM change_events")
    return int(rows[0])


@db_session
def events_after(
    after_id: int,
    limit: int,
    *,
    up_to: int | None = None,
    owner: str | None = None,
    workspace_id: str | None = None,
) -> list[ChangeEvent]:
    """Events after `after_id` (up to `up_to` inclusive), oldest first, with their objects' JSON
    as they are now; `owner`/`workspace_id` narrow them to what one stream may see."""
    where = ["id > $after"]
    params: dict[str, Any] = {"after": after_id, "limit": limit}
    for column, value in (("owner", owner), ("workspace_id", workspace_id)):
        if value is not None:
            where.append(f"{column} = ${column}")
            params[column] = value
    if up_to is not None:
        where.append("id <= $up_to")
        params["up_to"] = up_to
    db = active().db
    rows = db.select(
        "SELECT id, kind, object_id, workspace_id, owner, status, detail FROM change_events"
        f" WHERE {' AND '.join(where)} ORDER BY id LIMIT $limit",
        {},
        params,
    )
    workspaces = _workspaces_json({row[2] for row in rows if row[1] == "workspace"})
    operations = _operations_json({row[2] for row in rows if row[1] != "workspace"})
    events = []
    for event_id, kind, object_id, ws_id, row_owner, status, detail in rows:
        kind_type = _event_type(kind, status)
        body: dict[str, Any] = {"type": kind_type, "status": status}
        if kind == "workspace":
            body["workspace"] = workspaces.get(object_id, {"id": object_id, "status": status})
        else:
            body["operation"] = operations.get(object_id, {"id": object_id, "status": status})
            if detail is not None:
                body["line"] = detail
        events.append(ChangeEvent(event_id, kind_type, ws_id, row_owner, json.dumps(body)))
    return events


def _placeholders(ids: set[str]) -> tuple[str, dict[str, str]]:
    names = {f"id{index}": value for index, value in enumerate(sorted(ids))}
    return ", ".join(f"${name}" for name in names), names


def _workspaces_json(ids: set[str]) -> dict[str, Any]:
    if not ids:
        return {}
    marks, params = _placeholders(ids)
    rows = active().db.select(
        f"SELECT id, {workspace_json()} FROM workspaces WHERE id IN ({marks})", {}, params
    )
    return {row[0]: json.loads(row[1]) for row in rows}


def _operations_json(ids: set[str]) -> dict[str, Any]:
    if not ids:
        return {}
    marks, params = _placeholders(ids)
    rows = active().db.select(
        f"SELECT {OPERATION_COLUMNS} FROM operations WHERE id IN ({marks})", {}, params
    )
    records = [operation_from_row(row) for row in rows]
    return {record.id: record.to_json() for record in records}


@db_session
def purge_events(retention_seconds: int = RETENTION_SECONDS) -> int:
    """Events older than the retention; the newest one always stays (it holds the position)."""
    # `at` is the database's own CURRENT_TIMESTAMP (UTC): compared as text on SQLite
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=retention_seconds)
    cursor = active().db.execute(
        "DELETE FROM change_events WHERE at < $before AND id < (SELECT MAX(id) FROM change_events)",
        {},
        {"before": before.strftime("%Y-%m-%d %H:%M:%S")},
    )
    return int(cursor.rowcount)
