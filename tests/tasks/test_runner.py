"""How a task reacts to provider failures: transient ones retry, final ones fail the operation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from db_support import query

from models.settings import Settings
from models.workspaces import Limits, NewWorkspace, insert_workspace, select_workspace
from tasks.providers import reset_providers
from tasks.provision import provision_workspace
from tasks.queue import configure_queue

pytestmark = pytest.mark.usefixtures("migrated", "immediate")


def test_an_unreachable_docker_daemon_is_retried_then_reported(
    migrated: Settings, tmp_path: Path
) -> None:
    socket = f"unix://{tmp_path}/no-daemon.sock"
    configure_queue(replace(migrated, docker_host=socket, max_attempts=2))
    reset_providers()
    ws, op = insert_workspace(NewWorkspace("alice", "dev", "docker", template="base"), Limits())

    provision_workspace(op.id)  # first attempt: transient, handed back for a later retry
    rows = query(migrated, "SELECT status, attempts FROM operations WHERE id = ?", (op.id,))
    assert rows == [("pending", 1)]
    assert select_workspace(ws.id, "alice").status == "creating"

    provision_workspace(op.id)  # last attempt: the operation fails with a readable reason
    record = select_workspace(ws.id, "alice")
    assert record.status == "failed"
    assert record.error_message is not None
    assert f"Docker daemon not reachable at {socket}" in record.error_message
