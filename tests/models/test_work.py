"""Claims, completion and failure of operations, against a real migrated database."""

from __future__ import annotations

import pytest
from db_support import query

from models.errors import InvalidTransition
from models.records import OperationRecord, WorkspaceRecord
from models.settings import Settings
from models.states import OperationType
from models.work import (
    Claim,
    ClaimRefused,
    Outcome,
    claim_operation,
    complete_operation,
    fail_operation,
    mark_vanished,
    release_operation,
)
from models.workspaces import (
    Limits,
    NewWorkspace,
    insert_workspace,
    request_action,
    select_workspace,
)

pytestmark = pytest.mark.usefixtures("migrated")


def create(name: str = "dev", owner: str = "alice") -> tuple[WorkspaceRecord, OperationRecord]:
    return insert_workspace(NewWorkspace(owner=owner, name=name, provider="local"), Limits())


def operation_row(settings: Settings, operation_id: str) -> tuple:
    [row] = query(
        settings, "SELECT status, attempts, error FROM operations WHERE id = ?", (operation_id,)
    )
    return row


def test_an_operation_is_claimed_once(migrated: Settings) -> None:
    _, op = create()
    first = claim_operation(op.id, max_attempts=3)
    assert isinstance(first, Claim)
    assert first.workspace.status == "creating"
    assert claim_operation(op.id, max_attempts=3) is ClaimRefused.DONE
    assert operation_row(migrated, op.id)[:2] == ("running", 1)


def test_a_second_operation_waits_while_the_first_runs() -> None:
    ws, create_op = create()
    assert isinstance(claim_operation(create_op.id, 3), Claim)
    _, delete_op = request_action(ws.id, "alice", OperationType.DELETE, Limits())
    assert claim_operation(delete_op.id, 3) is ClaimRefused.BLOCKED
    assert complete_operation(create_op.id, Outcome(provider_id="p", connection_info={}))
    assert isinstance(claim_operation(delete_op.id, 3), Claim)


def test_delete_cancels_pending_work_and_wins(migrated: Settings) -> None:
    ws, create_op = create()
    _, delete_op = request_action(ws.id, "alice", OperationType.DELETE, Limits())
    status, _, error = operation_row(migrated, create_op.id)
    assert (status, error) == ("failed", "cancelled: the workspace was deleted")
    assert claim_operation(create_op.id, 3) is ClaimRefused.DONE
    claim = claim_operation(delete_op.id, 3)
    assert isinstance(claim, Claim)
    assert complete_operation(delete_op.id, Outcome())
    with pytest.raises(Exception, match=ws.id):
        select_workspace(ws.id, "alice")


def test_create_finishing_after_a_delete_keeps_deleting_but_records_the_resource() -> None:
    ws, create_op = create()
    assert isinstance(claim_operation(create_op.id, 3), Claim)
    request_action(ws.id, "alice", OperationType.DELETE, Limits())
    complete_operation(create_op.id, Outcome(provider_id="res-1", connection_info={"a": 1}))
    record = select_workspace(ws.id, "alice")
    assert (record.status, record.provider_id) == ("deleting", "res-1")


def test_a_failed_create_marks_the_workspace_failed_with_the_reason() -> None:
    ws, op = create()
    claim_operation(op.id, 3)
    assert fail_operation(op.id, "git clone failed: no such repository")
    record = select_workspace(ws.id, "alice")
    assert (record.status, record.error_message) == (
        "failed",
        "git clone failed: no such repository",
    )


def test_a_failed_stop_leaves_the_workspace_running() -> None:
    ws, op = create()
    claim_operation(op.id, 3)
    complete_operation(op.id, Outcome(provider_id="p", connection_info={}))
    _, stop = request_action(ws.id, "alice", OperationType.STOP, Limits())
    assert select_workspace(ws.id, "alice").status == "stopping"
    claim_operation(stop.id, 3)
    fail_operation(stop.id, "daemon down")
    assert select_workspace(ws.id, "alice").status == "running"


def test_an_action_the_status_does_not_allow_is_refused_with_the_status() -> None:
    ws, _ = create()
    with pytest.raises(InvalidTransition) as refused:
        request_action(ws.id, "alice", OperationType.START, Limits())
    assert refused.value.status == "creating"


def test_released_operations_can_be_claimed_again_until_attempts_run_out(
    migrated: Settings,
) -> None:
    ws, op = create()
    for attempt in (1, 2):
        assert isinstance(claim_operation(op.id, max_attempts=2), Claim)
        release_operation(op.id)
        assert operation_row(migrated, op.id)[:2] == ("pending", attempt)
    assert claim_operation(op.id, max_attempts=2) is ClaimRefused.DONE
    status, attempts, error = operation_row(migrated, op.id)
    assert (status, attempts) == ("failed", 3)
    assert "gave up after 2 attempts" in error
    assert select_workspace(ws.id, "alice").status == "failed"


def test_a_vanished_resource_fails_only_a_running_workspace() -> None:
    ws, op = create()
    assert not mark_vanished(ws.id, "gone")  # still creating
    claim_operation(op.id, 3)
    complete_operation(op.id, Outcome(provider_id="p", connection_info={}))
    assert mark_vanished(ws.id, "container vanished")
    record = select_workspace(ws.id, "alice")
    assert (record.status, record.error_message) == ("failed", "container vanished")
