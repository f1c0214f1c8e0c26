"""The sweep recovers work whose enqueue was lost or whose worker died."""

from __future__ import annotations

from datetime import timedelta

import pytest
from db_support import execute

from models.records import sql_time, utcnow
from models.settings import Settings
from models.work import Claim, ClaimRefused, claim_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace, select_workspace
from tasks.sweep import run_sweep

pytestmark = pytest.mark.usefixtures("migrated", "immediate")


def age(settings: Settings, column: str, operation_id: str, seconds: int) -> None:
    past = sql_time(utcnow() - timedelta(seconds=seconds))
    sql = f"UPDATE operations SET {column} = ? WHERE id = ?"
    assert execute(settings, sql, (past, operation_id)) == 1


def test_a_create_that_was_never_enqueued_is_provisioned(migrated: Settings) -> None:
    # insert_workspace commits; nothing enqueues: the state after a crash between the two.
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    assert run_sweep(migrated).requeued == 0  # within the grace period: left alone
    age(migrated, "started_at", op.id, migrated.requeue_after + 1)
    assert run_sweep(migrated).requeued == 0  # in no queue: marked, for a later sweep
    age(migrated, "missing_since", op.id, migrated.requeue_after)
    report = run_sweep(migrated)
    assert (report.requeued, report.failed) == (1, 0)
    assert select_workspace(ws.id, "alice").status == "running"


def test_an_operation_whose_worker_died_is_run_again(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    assert isinstance(claim_operation(op.id, migrated.max_attempts), Claim)  # then the worker dies
    age(migrated, "heartbeat_at", op.id, migrated.heartbeat_timeout + 1)
    assert run_sweep(migrated).requeued == 1
    assert select_workspace(ws.id, "alice").status == "running"


def test_an_operation_that_keeps_killing_its_worker_is_failed(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    for _ in range(migrated.max_attempts):
        assert isinstance(claim_operation(op.id, migrated.max_attempts), Claim)
        age(migrated, "heartbeat_at", op.id, migrated.heartbeat_timeout + 1)
        execute(migrated, "UPDATE operations SET status = 'pending' WHERE id = ?", (op.id,))
    assert claim_operation(op.id, migrated.max_attempts) is ClaimRefused.DONE
    record = select_workspace(ws.id, "alice")
    assert record.status == "failed"
    assert "gave up" in (record.error_message or "")
