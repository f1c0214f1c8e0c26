"""The janitor's and the sweep's set-based queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from db_support import execute, query

from models.maintenance import expire_workspaces, recover_operations
from models.records import sql_time, utcnow
from models.settings import Settings
from models.work import Claim, claim_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace

pytestmark = pytest.mark.usefixtures("migrated")


def backdate(settings: Settings, sql: str, seconds: int, row_id: str) -> None:
    assert execute(settings, sql, (sql_time(utcnow() - timedelta(seconds=seconds)), row_id)) == 1


def test_only_expired_live_workspaces_are_marked_with_a_delete_operation(
    migrated: Settings,
) -> None:
    expired, _ = insert_workspace(NewWorkspace("alice", "old", "local", ttl_seconds=60), Limits())
    fresh, _ = insert_workspace(NewWorkspace("alice", "new", "local", ttl_seconds=600), Limits())
    forever, _ = insert_workspace(NewWorkspace("alice", "keep", "local"), Limits())
    backdate(migrated, "UPDATE workspaces SET expires_at = ? WHERE id = ?", 1, expired.id)

    requeue = expire_workspaces(limit=100)

    assert [item.operation_type for item in requeue] == ["delete"]
    statuses = dict(query(migrated, "SELECT name, status FROM workspaces"))
    [create_status] = query(
        migrated,
        "SELECT status, error FROM operations WHERE workspace_id = ? AND operation_type = 'create'",
        (expired.id,),
    )
    assert statuses == {"old": "deleting", "new": "creating", "keep": "creating"}
    assert create_status == ("failed", "cancelled: the workspace expired")
    assert expire_workspaces(limit=100) == []  # already deleting: not expired twice
    assert fresh.id and forever.id


def test_expiry_works_in_batches(migrated: Settings) -> None:
    for index in range(5):
        ws, _ = insert_workspace(NewWorkspace("bob", f"w{index}", "local", ttl_seconds=5), Limits())
        backdate(migrated, "UPDATE workspaces SET expires_at = ? WHERE id = ?", 1, ws.id)
    assert len(expire_workspaces(limit=2)) == 2
    assert len(expire_workspaces(limit=2)) == 2
    assert len(expire_workspaces(limit=2)) == 1


def recover() -> list[str]:
    return [
        r.operation_id for r in recover_operations(30, heartbeat_timeout=30, max_attempts=3).requeue
    ]


def test_a_lost_enqueue_is_found_after_the_grace_period(migrated: Settings) -> None:
    _, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    assert recover() == []  # just recorded: its enqueue may be on the way
    backdate(migrated, "UPDATE operations SET started_at = ? WHERE id = ?", 31, op.id)
    assert recover() == []  # in no queue: marked, for a later sweep to confirm
    assert recover() == []  # confirmed only half a grace period later
    backdate(migrated, "UPDATE operations SET missing_since = ? WHERE id = ?", 16, op.id)
    assert recover() == [op.id]
    assert query(migrated, "SELECT missing_since FROM operations WHERE id = ?", (op.id,)) == [
        (None,)
    ]
    # Re-enqueued just now: not again until another grace period passes.
    assert recover() == []


def test_an_operation_taken_off_its_queue_is_not_enqueued_again_once_claimed(
    migrated: Settings,
) -> None:
    # A consumer took its task off the queue when the sweep looked, and claims it next.
    _, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    backdate(migrated, "UPDATE operations SET started_at = ? WHERE id = ?", 31, op.id)
    assert recover() == []
    assert isinstance(claim_operation(op.id, 3), Claim)
    assert query(migrated, "SELECT missing_since FROM operations WHERE id = ?", (op.id,)) == [
        (None,)
    ]
    assert recover() == []
    ((status, attempts),) = query(
        migrated, "SELECT status, attempts FROM operations WHERE id = ?", (op.id,)
    )
    assert (status, attempts) == ("running", 1)


def test_an_operation_found_waiting_again_loses_its_mark(migrated: Settings) -> None:
    _, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    backdate(migrated, "UPDATE operations SET started_at = ? WHERE id = ?", 31, op.id)
    assert recover() == []  # marked
    backdate(migrated, "UPDATE operations SET missing_since = ? WHERE id = ?", 16, op.id)
    waiting = recover_operations(30, 30, 3, still_queued=lambda ids: set(ids)).requeue
    assert waiting == []  # enqueued again by someone else meanwhile: it waits
    assert query(migrated, "SELECT missing_since FROM operations WHERE id = ?", (op.id,)) == [
        (None,)
    ]
    assert recover() == []  # in no queue again: a new mark, not a requeue


def test_a_running_operation_with_a_stale_heartbeat_goes_back_to_pending(
    migrated: Settings,
) -> None:
    _, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    assert isinstance(claim_operation(op.id, 3), Claim)
    assert recover_operations(30, heartbeat_timeout=30, max_attempts=3).requeue == []
    backdate(migrated, "UPDATE operations SET heartbeat_at = ? WHERE id = ?", 31, op.id)
    recovery = recover_operations(30, heartbeat_timeout=30, max_attempts=3)
    assert [r.operation_id for r in recovery.requeue] == [op.id]
    assert query(migrated, "SELECT status FROM operations WHERE id = ?", (op.id,)) == [("pending",)]


def test_an_operation_whose_workers_keep_dying_is_reported_exhausted(migrated: Settings) -> None:
    _, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    claim_operation(op.id, 3)
    execute(migrated, "UPDATE operations SET attempts = 3 WHERE id = ?", (op.id,))
    backdate(migrated, "UPDATE operations SET heartbeat_at = ? WHERE id = ?", 31, op.id)
    recovery = recover_operations(30, heartbeat_timeout=30, max_attempts=3)
    assert (recovery.requeue, recovery.exhausted) == ([], [op.id])
