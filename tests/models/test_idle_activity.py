"""What counts as activity, and which workspaces are idle, against a real migrated database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from db_support import execute

from models.access import begin_access, finish_access
from models.activity import describe_idle, idle_workspaces, keepalive
from models.errors import NotFound
from models.records import sql_time, utcnow
from models.settings import Settings
from models.states import AccessType
from models.work import Outcome, claim_operation, complete_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace

pytestmark = pytest.mark.usefixtures("migrated")


def running(name: str, timeout: int) -> str:
    workspace, operation = insert_workspace(
        NewWorkspace(owner="alice", name=name, provider="local", idle_timeout_seconds=timeout),
        Limits(),
    )
    claim_operation(operation.id, 3)
    complete_operation(operation.id, Outcome(provider_id="x"))
    return workspace.id


def age(settings: Settings, workspace_id: str, seconds: int) -> None:
    past = sql_time(utcnow() - timedelta(seconds=seconds))
    changed = execute(
        settings, "UPDATE workspaces SET last_activity_at = ? WHERE id = ?", (past, workspace_id)
    )
    assert changed == 1


def idle_ids() -> list[str]:
    return [idle.workspace_id for idle in idle_workspaces(heartbeat_timeout=30)]


def test_a_workspace_past_its_timeout_is_idle(migrated: Settings) -> None:
    quiet = running("quiet", 60)
    busy = running("busy", 60)
    never = running("never", 0)
    for workspace_id in (quiet, busy, never):
        age(migrated, workspace_id, 120)
    age(migrated, busy, 10)

    found = idle_workspaces(heartbeat_timeout=30)
    assert [idle.workspace_id for idle in found] == [quiet]
    assert 119 <= found[0].idle_seconds <= 125


def test_an_open_session_keeps_it_active_and_its_end_counts(migrated: Settings) -> None:
    workspace_id = running("terminal", 60)
    age(migrated, workspace_id, 120)
    session = begin_access(workspace_id, "alice", AccessType.TERMINAL, "alice")
    age(migrated, workspace_id, 120)  # a long session: its start was long ago

    assert idle_ids() == []  # the session is open, with a fresh heartbeat
    finish_access(session.id)
    assert idle_ids() == []  # and its end is fresh activity


def test_a_keepalive_counts_and_is_the_owners_only(migrated: Settings) -> None:
    workspace_id = running("kept", 60)
    age(migrated, workspace_id, 120)

    with pytest.raises(NotFound):
        keepalive(workspace_id, "bob")
    assert idle_ids() == [workspace_id]
    record = keepalive(workspace_id, "alice")
    assert record.last_activity_at is not None
    assert idle_ids() == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "idle for 45 s"), (1800, "idle for 30 min"), (7500, "idle for 2 h 5 min"),
     (7200, "idle for 2 h")],
)  # fmt: skip
def test_the_reason_says_how_long(seconds: int, text: str) -> None:
    assert describe_idle(seconds) == text
