"""Activity of a workspace, for idle auto-stop: what counts, and who has been idle too long.

Activity is a person's state-changing action on the workspace (models/workspaces.py), an
explicit keepalive, and the direct use recorded in models/access.py (exec, terminal, file
transfer, log follow): at its start, at its end, and all along while it is open (its
operation is `running` with a fresh heartbeat). Reads never count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pony.orm import db_session

from models.errors import NotFound
from models.reads import stored_moment
from models.records import WorkspaceRecord, sql_time, utcnow
from models.states import WorkspaceStatus
from models.store import active, write_session
from models.work import ACCESS_TYPES_SQL


def mark_active(ws: object) -> None:
    """Inside a session that holds the workspace's entity."""
    ws.last_activity_at = utcnow()  # type: ignore[attr-defined]


@write_session
def keepalive(workspace_id: str, owner: str | None) -> WorkspaceRecord:
    """POST /api/v1/workspaces/{id}/activity: the person is still there."""
    ws = active().entities.Workspace.get(id=workspace_id)
    if ws is None or ws.status == WorkspaceStatus.DELETED.value:
        raise NotFound(workspace_id)
    if owner is not None and ws.owner != owner:
        raise NotFound(workspace_id)
    mark_active(ws)
    return WorkspaceRecord.from_entity(ws)


@dataclass(frozen=True)
class Idle:
    workspace_id: str
    idle_seconds: int


@db_session
def idle_workspaces(heartbeat_timeout: int, limit: int = 1000) -> list[Idle]:
    """Running workspaces past their idle timeout, with no open session (terminal, exec, log
    follow) on them."""
    now = utcnow()
    rows = active().db.select(
        f"""SELECT id, last_activity_at, idle_timeout_seconds FROM workspaces AS w
        WHERE status = 'running' AND idle_timeout_seconds > 0
          AND last_activity_at IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM operations AS o
            WHERE o.workspace_id = w.id AND o.status = 'running'
              AND o.operation_type IN ({ACCESS_TYPES_SQL}) AND o.heartbeat_at >= $alive_after)
        ORDER BY last_activity_at LIMIT $limit""",
        {},
        {"alive_after": sql_time(now - timedelta(seconds=heartbeat_timeout)), "limit": limit},
    )
    found = []
    for workspace_id, last, timeout in rows:
        idle = int((now - stored_moment(last)).total_seconds())  # type: ignore[operator]
        if idle >= timeout:
            found.append(Idle(workspace_id, idle))
    return found


def describe_idle(seconds: int) -> str:
    """'idle for 30 min', 'idle for 2 h 5 min', 'idle for 45 s'."""
    if seconds < 60:
        return f"idle for {seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"idle for {minutes} min"
    return f"idle for {hours} h" + (f" {minutes} min" if minutes else "")
