"""The janitor: TTL enforcement and drift repair, with the local provider."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta

import pytest
from db_support import execute

from models.errors import NotFound
from models.records import sql_time, utcnow
from models.settings import Settings
from models.workspaces import Limits, NewWorkspace, insert_workspace, select_workspace
from tasks.janitor import run_janitor
from tasks.provision import provision_workspace

pytestmark = pytest.mark.usefixtures("migrated", "immediate")


def expire_now(settings: Settings, workspace_id: str) -> None:
    past = sql_time(utcnow() - timedelta(seconds=1))
    execute(settings, "UPDATE workspaces SET expires_at = ? WHERE id = ?", (past, workspace_id))


def test_an_expired_workspace_is_cleaned_up(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local", ttl_seconds=60), Limits())
    keep, keep_op = insert_workspace(NewWorkspace("alice", "keep", "local"), Limits())
    provision_workspace(op.id)
    provision_workspace(keep_op.id)
    expire_now(migrated, ws.id)

    report = run_janitor(migrated)

    assert report.expired == 1
    with pytest.raises(NotFound):
        select_workspace(ws.id, "alice")
    assert not (migrated.resolved_data_dir / "workspaces" / ws.id).exists()
    assert select_workspace(keep.id, "alice").status == "running"


def test_a_folder_with_no_live_workspace_is_removed(migrated: Settings) -> None:
    orphan = migrated.resolved_data_dir / "workspaces" / str(uuid.uuid4())
    orphan.mkdir(parents=True)
    report = run_janitor(migrated)
    assert report.orphans_removed == 1
    assert not orphan.exists()


def test_snapshots_with_no_live_workspace_are_removed(migrated: Settings) -> None:
    """Left when a removal failed half-way: no folder, only the snapshots."""
    live, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    snapshots = migrated.resolved_data_dir / "snapshots"
    kept, orphaned = snapshots / live.id, snapshots / str(uuid.uuid4())
    for folder in (kept, orphaned):
        folder.mkdir(parents=True)
        (folder / f"{uuid.uuid4()}.tar.gz").write_bytes(b"")

    report = run_janitor(migrated)

    assert (report.orphans_removed, report.orphans_left) == (1, 0)
    assert not orphaned.exists()
    assert kept.is_dir() and any(kept.iterdir())


def test_a_running_workspace_whose_folder_vanished_becomes_failed(migrated: Settings) -> None:
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "local"), Limits())
    provision_workspace(op.id)
    shutil.rmtree(migrated.resolved_data_dir / "workspaces" / ws.id)
    report = run_janitor(migrated)
    record = select_workspace(ws.id, "alice")
    assert report.vanished == 1
    assert record.status == "failed"
    assert "disappeared outside vm-api" in (record.error_message or "")
