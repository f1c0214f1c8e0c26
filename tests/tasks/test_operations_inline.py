"""Per-workspace tasks run inline (huey immediate mode) against the local provider."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from db_support import query

from models.settings import Settings
from models.states import OperationType
from models.work import Claim, claim_operation
from models.workspaces import (
    Limits,
    NewWorkspace,
    insert_workspace,
    request_action,
    select_workspace,
)
from tasks.cleanup import cleanup_workspace
from tasks.dispatch import enqueue_operation
from tasks.providers.local import local_shell_command
from tasks.provision import provision_workspace

pytestmark = pytest.mark.usefixtures("migrated", "immediate")


def workspace_folder(settings: Settings, workspace_id: str) -> Path:
    return settings.resolved_data_dir / "workspaces" / workspace_id


def operation_status(settings: Settings, operation_id: str) -> tuple[str, int]:
    [row] = query(settings, "SELECT status, attempts FROM operations WHERE id = ?", (operation_id,))
    return row


def test_provisioning_makes_the_folder_and_records_where_it_is(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    record = select_workspace(ws.id, "alice")
    folder = workspace_folder(migrated, ws.id)
    assert record.status == "running"
    assert record.connection_info == {
        "path": str(folder),
        "ssh_command": local_shell_command(folder),
    }
    assert folder.is_dir()
    assert operation_status(migrated, op.id) == ("success", 1)


def test_running_a_provision_task_twice_provisions_once(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    folder = workspace_folder(migrated, ws.id)
    shutil.rmtree(folder)  # if the second run provisioned again, the folder would come back
    provision_workspace(op.id)
    assert not folder.exists()
    assert operation_status(migrated, op.id) == ("success", 1)


def test_a_provision_retried_after_a_crash_adopts_what_exists(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    folder = workspace_folder(migrated, ws.id)
    folder.mkdir(parents=True)
    (folder / "work.txt").write_text("kept")
    provision_workspace(op.id)
    assert (folder / "work.txt").read_text() == "kept"
    assert select_workspace(ws.id, "alice").status == "running"


def test_cloning_a_repository_fills_the_workspace(migrated: Settings, git_repo: Path) -> None:
    ws, op = insert_workspace(
        NewWorkspace("alice", "dev", "local", repo_url=str(git_repo)), Limits()
    )
    provision_workspace(op.id)
    folder = workspace_folder(migrated, ws.id)
    assert (folder / "README").read_text() == "hello\n"
    assert select_workspace(ws.id, "alice").status == "running"


def test_a_clone_that_fails_leaves_a_failed_workspace_with_the_reason(
    migrated: Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-repo"
    ws, op = insert_workspace(
        NewWorkspace("alice", "dev", "local", repo_url=str(missing)), Limits()
    )
    provision_workspace(op.id)
    record = select_workspace(ws.id, "alice")
    assert record.status == "failed"
    assert record.error_message is not None and "git clone failed" in record.error_message
    assert not workspace_folder(migrated, ws.id).exists()
    assert operation_status(migrated, op.id)[0] == "failed"


def test_delete_removes_the_folder_and_the_workspace(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    _, delete = request_action(ws.id, "alice", OperationType.DELETE, Limits())
    cleanup_workspace(delete.id)
    assert not workspace_folder(migrated, ws.id).exists()
    assert operation_status(migrated, delete.id) == ("success", 1)
    assert query(migrated, "SELECT status FROM workspaces WHERE id = ?", (ws.id,)) == [("deleted",)]


def test_delete_while_provisioning_is_claimed_cleans_up_after_it(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    assert isinstance(claim_operation(op.id, 3), Claim)  # a worker holds the create
    _, delete = request_action(ws.id, "alice", OperationType.DELETE, Limits())
    cleanup_workspace(delete.id)  # blocked: it must wait for the create
    assert operation_status(migrated, delete.id) == ("pending", 0)


def test_every_lifecycle_action_reaches_its_final_status(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    for action, expected in [
        (OperationType.STOP, "stopped"),
        (OperationType.START, "running"),
        (OperationType.RESTART, "running"),
        (OperationType.REBUILD, "running"),
    ]:
        _, operation = request_action(ws.id, "alice", action, Limits())
        assert enqueue_operation(operation.id, operation.operation_type)
        assert select_workspace(ws.id, "alice").status == expected, action
        assert operation_status(migrated, operation.id) == ("success", 1)


def test_a_stop_of_a_vanished_folder_fails_and_leaves_the_workspace_running(
    migrated: Settings,
) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    shutil.rmtree(workspace_folder(migrated, ws.id))
    _, stop = request_action(ws.id, "alice", OperationType.STOP, Limits())
    enqueue_operation(stop.id, stop.operation_type)
    assert select_workspace(ws.id, "alice").status == "running"
    assert operation_status(migrated, stop.id)[0] == "failed"
