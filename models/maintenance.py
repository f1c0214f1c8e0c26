"""Set-based queries for the janitor and the sweep: they touch many rows, so they use SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pony.orm import db_session

from models.dialect import execute_many
from models.records import sql_time, utcnow
from models.store import active, write_session
from models.trash import FINAL_SNAPSHOT_NAME, KEEP_FOR, KEEPABLE
from models.work import ACCESS_TYPES_SQL


@dataclass(frozen=True)
class Requeue:
    operation_id: str
    operation_type: str


@write_session
def expire_workspaces(limit: int, keep_for: int = 0) -> list[Requeue]:
    """Move up to `limit` expired workspaces to `deleting`, each with a pending delete operation.

    With `keep_for` (the trash's retention, docs/trash.md), a running or stopped workspace's
    delete first takes a final snapshot, kept that long. The scan is served by the partial index
    `workspaces_expiry`, so its cost follows the number of expired rows, not the table's size.
    """
    db = active().db
    now = utcnow()
    rows = db.select(
        """SELECT id, owner, status FROM workspaces
        WHERE expires_at IS NOT NULL AND status <> 'deleting' AND status <> 'deleted'
          AND expires_at <= $now
        LIMIT $limit
        """,
        {},
        {"now": sql_time(now), "limit": limit},
    )
    if not rows:
        return []
    stamp = sql_time(now)
    execute_many(
        "UPDATE workspaces SET status = 'deleting', updated_at = ? WHERE id = ?",
        [(stamp, workspace_id) for workspace_id, _, _ in rows],
    )
    execute_many(
        "UPDATE operations SET status = 'failed', completed_at = ?,"
        " error = 'cancelled: the workspace expired'"
        " WHERE workspace_id = ? AND status = 'pending'",
        [(stamp, workspace_id) for workspace_id, _, _ in rows],
    )
    keepable = {status.value for status in KEEPABLE} if keep_for else set()
    detail = json.dumps({KEEP_FOR: keep_for})
    deletes = []
    for workspace_id, owner, status in rows:
        snapshot_id = str(uuid.uuid4()) if status in keepable else None
        deletes.append((str(uuid.uuid4()), workspace_id, owner, snapshot_id))
    execute_many(
        "INSERT INTO operations (id, workspace_id, owner, operation_type, status, started_at,"
        " attempts, requested_by, reason, target_id, detail)"
        " VALUES (?, ?, ?, 'delete', 'pending', ?, 0, 'janitor', 'ttl expired', ?, ?)",
        [
            (op_id, workspace_id, owner, stamp, snapshot_id, detail if snapshot_id else None)
            for op_id, workspace_id, owner, snapshot_id in deletes
        ],
    )
    execute_many(
        "INSERT INTO snapshots (id, workspace_id, owner, name, status, created_at)"
        " VALUES (?, ?, ?, ?, 'creating', ?)",
        [
            (snapshot_id, workspace_id, owner, FINAL_SNAPSHOT_NAME, stamp)
            for _, workspace_id, owner, snapshot_id in deletes
            if snapshot_id
        ],
    )
    return [Requeue(op_id, "delete") for op_id, _, _, _ in deletes]


@dataclass(frozen=True)
class Recovery:
    requeue: list[Requeue]
    exhausted: list[str]  # operation ids whose workers died too often: to be failed


@write_session
def recover_operations(
    requeue_after: int,
    heartbeat_timeout: int,
    max_attempts: int,
    still_queued: Callable[[list[str]], set[str]] | None = None,
) -> Recovery:
    """Find work that was lost: pending and in no queue for a while, or running on a dead worker.

    A live worker heartbeats its running operations. A pending operation was enqueued at
    `enqueued_at` (or when it was recorded); one that `still_queued` finds waiting in a backlog
    is not lost, or every sweep would add a copy of each task of a long queue. Nor is one whose
    task a consumer has just taken off its queue and not yet claimed: it is in no queue for that
    moment. So a pending operation found in no queue is first only marked (`missing_since`), and
    enqueued again when a sweep half a grace period later still finds it in none.
    A pending operation of a workspace whose Docker host is down already waits in that host's
    queue: it is not enqueued again and again until the host is back.
    """
    db = active().db
    now = utcnow()
    half = timedelta(seconds=requeue_after / 2)
    dead_before = sql_time(now - timedelta(seconds=heartbeat_timeout))
    dead = db.select(
        f"""SELECT id, operation_type, attempts FROM operations
        WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $dead_before)
          AND operation_type NOT IN ({ACCESS_TYPES_SQL})
        """,
        {},
        {"dead_before": dead_before},
    )
    # seen: 0 when no sweep found it in no queue yet, 1 lately, 2 at least half a grace ago
    pending = db.select(
        """SELECT id, operation_type,
               CASE WHEN missing_since IS NULL THEN 0
                    WHEN missing_since < $confirm_before THEN 2 ELSE 1 END
        FROM operations
        WHERE status = 'pending' AND COALESCE(enqueued_at, started_at) < $lost_before
          AND NOT EXISTS (SELECT 1 FROM workspaces AS w WHERE w.id = operations.workspace_id
                          AND w.host_unreachable IS NOT NULL)
        """,
        {},
        {"lost_before": sql_time(now - half), "confirm_before": sql_time(now - half)},
    )
    # A web process that died during an exec or a terminal session never finished its record.
    db.execute(
        f"""UPDATE operations SET status = 'failed', completed_at = $now,
            error = 'the web process ended before it finished'
        WHERE status = 'running' AND heartbeat_at < $dead_before
          AND operation_type IN ({ACCESS_TYPES_SQL})
        """,
        {},
        {"now": sql_time(now), "dead_before": dead_before},
    )
    lost = _confirmed_lost(pending, still_queued, sql_time(now))
    retry = [(op_id, kind) for op_id, kind, attempts in dead if attempts < max_attempts]
    exhausted = [op_id for op_id, _, attempts in dead if attempts >= max_attempts]
    requeue = retry + lost
    if requeue:
        # One writer at a time (write_session): no claim came in since the selects above.
        stamp = sql_time(now)
        execute_many(
            "UPDATE operations SET status = 'pending', heartbeat_at = NULL, missing_since = NULL,"
            " enqueued_at = ? WHERE id = ? AND status IN ('pending', 'running')",
            [(stamp, op_id) for op_id, _ in requeue],
        )
    return Recovery([Requeue(op_id, kind) for op_id, kind in requeue], exhausted)


def _confirmed_lost(
    pending: list[tuple[str, str, int]],
    still_queued: Callable[[list[str]], set[str]] | None,
    now: str,
) -> list[tuple[str, str]]:
    """Of these pending operations, those in no queue now that an earlier sweep (`seen` 2)
    found in none already; the others in no queue are marked, those waiting unmarked."""
    if not pending:
        return []
    waiting = still_queued([op_id for op_id, _, _ in pending]) if still_queued else set()
    lost: list[tuple[str, str]] = []
    mark: list[tuple[str, str]] = []
    unmark: list[tuple[str]] = []
    for op_id, kind, seen in pending:
        if op_id in waiting:
            if seen:
                unmark.append((op_id,))
        elif not seen:
            mark.append((now, op_id))
        elif seen == 2:
            lost.append((op_id, kind))
    if mark:
        execute_many(
            "UPDATE operations SET missing_since = ? WHERE id = ? AND status = 'pending'", mark
        )
    if unmark:
        execute_many("UPDATE operations SET missing_since = NULL WHERE id = ?", unmark)
    return lost


@db_session
def live_workspace_ids(provider: str) -> set[str]:
    """Workspaces of a provider that should have resources (for drift repair): the trash's
    keep their final snapshot."""
    rows = active().db.select(
        "SELECT id FROM workspaces WHERE provider = $provider"
        " AND (status <> 'deleted' OR trash_snapshot_id IS NOT NULL)",
        {},
        {"provider": provider},
    )
    return set(rows)


@db_session
def running_workspace_ids(provider: str, host: str | None = None) -> list[str]:
    """Running workspaces of a provider on one Docker host (None: the service's own)."""
    on_host = "host IS NULL" if host is None else "host = $host"
    return list(
        active().db.select(
            "SELECT id FROM workspaces WHERE provider = $provider AND status = 'running'"
            f" AND {on_host}",
            {},
            {"provider": provider, "host": host},
        )
    )
