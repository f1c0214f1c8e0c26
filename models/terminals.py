"""Terminal sessions: access operations of type `terminal`, at most N open per workspace.

The count is of `running` terminal operations in the database, so it holds across several web
processes. A session whose process died without finishing it stops counting once its
heartbeat is older than `stale_after` (the sweep fails it a little later).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pony.orm import db_session

from models.access import begin_access
from models.records import OperationRecord, sql_time, utcnow
from models.states import AccessType, OperationStatus
from models.store import active, write_session


class TooManyTerminals(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"this workspace already has {limit} open terminals (the limit)")
        self.limit = limit


def _open_count(workspace_id: str, fresh_after: datetime) -> int:
    rows = active().db.select(
        """SELECT COUNT(*) FROM operations
           WHERE workspace_id = $workspace_id AND operation_type = $terminal
             AND status = $running AND heartbeat_at > $fresh_after""",
        {},
        {
            "workspace_id": workspace_id,
            "terminal": AccessType.TERMINAL.value,
            "running": OperationStatus.RUNNING.value,
            "fresh_after": sql_time(fresh_after),
        },
    )
    return int(rows[0])


@write_session
def begin_terminal(
    workspace_id: str,
    owner: str,
    requested_by: str,
    limit: int,
    stale_after: timedelta,
    detail: dict[str, Any] | None = None,
) -> OperationRecord:
    """The session's `running` operation, or TooManyTerminals. Counting and inserting in one
    immediate transaction: two sessions opened at once cannot both take the last place."""
    if _open_count(workspace_id, utcnow() - stale_after) >= limit:
        raise TooManyTerminals(limit)
    return begin_access(
        workspace_id, owner, AccessType.TERMINAL, requested_by=requested_by, detail=detail
    )


@db_session
def open_terminal_count(workspace_id: str, stale_after: timedelta) -> int:
    return _open_count(workspace_id, utcnow() - stale_after)
