"""The operator's queries (tasks/inspection.py) over a real SQLite queue and history, and the data.

Tasks run through huey.execute() in this thread, as a consumer's worker runs them: the history
sees the real signals. A consumer process is exercised in tests/e2e/test_task_inspection.py.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import replace

import pytest
from db_support import execute, query

import tasks.worker
from models.settings import Settings
from models.states import OperationType
from models.task_control import Refused
from models.workspaces import Limits, NewWorkspace, insert_workspace, request_action
from tasks.dispatch import enqueue_operation, enqueue_operations
from tasks.history import TaskHistory, disable_task_history, enable_task_history
from tasks.inspection import TaskView, operation_id_in
from tasks.queue import huey


@pytest.fixture
def history(migrated: Settings) -> Iterator[TaskHistory]:
    recorder = enable_task_history(huey, migrated)
    assert recorder is not None
    yield recorder
    disable_task_history(huey)


def run_all(history: TaskHistory) -> int:
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    history._flush()  # the writer thread would do it within 0.5 s
    return ran


def new_workspace(name: str, **fields: object) -> tuple[str, str]:
    new = NewWorkspace(owner="alice", name=name, provider="local", **fields)  # type: ignore[arg-type]
    ws, op = insert_workspace(new, Limits())
    assert enqueue_operation(op.id, op.operation_type)
    return ws.id, op.id


def task_ids(settings: Settings, operation_id: str) -> str | None:
    [(value,)] = query(settings, "SELECT task_ids FROM operations WHERE id = ?", (operation_id,))
    return value


def data_tables(settings: Settings) -> set[str]:
    """The tables of the data database: the SQLite file, or the test's PostgreSQL schema."""
    if settings.database is None:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    return {name for (name,) in query(settings, sql)}


def test_on_postgresql_the_history_lives_beside_the_data(
    migrated: Settings, history: TaskHistory
) -> None:
    if migrated.database is None:
        pytest.skip("the data is on SQLite in this run")
    assert {"operations", "huey_event", "huey_inflight"} <= data_tables(migrated)
    assert not migrated.resolved_task_history_path.exists()  # no SQLite file on the side


@pytest.mark.sqlite_only
def test_the_history_lives_in_its_own_file(migrated: Settings, history: TaskHistory) -> None:
    path = migrated.resolved_task_history_path
    assert path.exists() and path not in (migrated.db_path, migrated.resolved_queue_path)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = data_tables(migrated)
    assert "operations" in tables and "huey_event" not in tables


def test_enqueue_records_the_task_id_on_the_operation(migrated: Settings) -> None:
    _, op_id = new_workspace("one")

    (task,) = huey.pending()

    assert task_ids(migrated, op_id) == f'["{task.id}"]'
    assert task.args == (op_id,)


def test_a_batch_records_every_task_id_and_a_second_enqueue_appends(migrated: Settings) -> None:
    ops = [insert_workspace(NewWorkspace("alice", f"w{i}", "local"), Limits())[1] for i in range(3)]
    enqueue_operations([(op.id, op.operation_type) for op in ops])
    enqueue_operations([(ops[0].id, ops[0].operation_type)])  # as the sweep does

    queued = {t.id: t.args[0] for t in huey.pending()}

    for op in ops:
        recorded = [t for t, o in queued.items() if o == op.id]
        assert sorted(json.loads(task_ids(migrated, op.id) or "[]")) == sorted(recorded)
    assert len(json.loads(task_ids(migrated, ops[0].id) or "[]")) == 2


def test_recent_shows_a_success_and_a_failure_with_durations(
    migrated: Settings, history: TaskHistory
) -> None:
    good_ws, good_op = new_workspace("good")
    bad_ws, bad_op = new_workspace("bad", repo_url=str(migrated.db_path.parent / "no-repo"))
    assert run_all(history) == 2
    view = TaskView(migrated)

    rows = view.list_tasks("recent")

    by_op = {r["operation_id"]: r for r in rows}
    assert by_op[good_op]["outcome"] == "complete" and by_op[good_op]["workspace_id"] == good_ws
    assert by_op[bad_op]["outcome"] == "failed" and by_op[bad_op]["workspace_id"] == bad_ws
    assert by_op[bad_op]["error"].startswith("git clone failed")
    assert all(r["duration"] >= 0 and r["task"] == "provision_workspace" for r in rows)
    assert view.list_tasks("recent", task="cleanup_workspace") == []
    assert len(view.list_tasks("recent", limit=1)) == 1


def test_show_finds_a_task_by_its_id_or_its_operation(
    migrated: Settings, history: TaskHistory
) -> None:
    _, op_id = new_workspace("shown")
    (task,) = huey.pending()
    run_all(history)
    view = TaskView(migrated)

    by_task, by_operation = view.show(task.id), view.show(op_id)

    assert by_task is not None and by_operation is not None
    assert by_task["operation"]["id"] == op_id == by_operation["operation"]["id"]
    signals = [e["signal"] for e in by_operation["events"]]
    # Redis has no batch enqueue: its tasks go through huey.enqueue, which signals "enqueued"
    assert [s for s in signals if s != "enqueued"] == ["executing", "complete"]
    assert view.show("00000000-0000-4000-8000-000000000000") is None


def test_revoking_a_pending_create_cancels_it_and_the_task_does_nothing(
    migrated: Settings, history: TaskHistory
) -> None:
    ws_id, op_id = new_workspace("revoked")
    view = TaskView(migrated)
    (task,) = view.list_tasks("pending")
    assert task["operation_id"] == op_id and task["outcome"] == "pending"

    result = view.revoke(task["task_id"], "carol")
    run_all(history)

    assert result["operation"]["status"] == "cancelled"
    assert result["operation"]["error"] == "revoked by carol"
    assert result["operation"]["detail"] == {"revoked_by": "carol"}
    (row,) = view.list_tasks("recent")
    assert row["outcome"] == "revoked"
    [(status, message)] = query(
        migrated, "SELECT status, error_message FROM workspaces WHERE id = ?", (ws_id,)
    )
    assert (status, message) == ("failed", "create cancelled by carol")
    assert not (migrated.resolved_data_dir / "workspaces" / ws_id).exists()


def test_a_cancelled_stop_leaves_the_workspace_running(
    migrated: Settings, history: TaskHistory
) -> None:
    ws_id, _ = new_workspace("stopper")
    run_all(history)
    _, stop = request_action(ws_id, None, OperationType.STOP, Limits())
    enqueue_operation(stop.id, stop.operation_type)

    TaskView(migrated).revoke(stop.id, "carol")  # by operation id
    run_all(history)

    assert query(migrated, "SELECT status FROM workspaces WHERE id = ?", (ws_id,)) == [("running",)]


def test_a_running_operation_is_not_revoked(migrated: Settings) -> None:
    _, op_id = new_workspace("busy")
    execute(migrated, "UPDATE operations SET status = 'running' WHERE id = ?", (op_id,))

    with pytest.raises(Refused) as refused:
        TaskView(migrated).revoke(op_id, "carol")

    assert refused.value.code == "TASK_RUNNING"
    assert "cannot stop a running task" in str(refused.value)
    assert huey.pending_count() == 1 and not huey.is_revoked(huey.pending()[0].id)


def test_retry_makes_a_new_operation_and_refuses_what_is_not_failed(
    migrated: Settings, history: TaskHistory
) -> None:
    repo = migrated.db_path.parent / "later"
    ws_id, op_id = new_workspace("again", repo_url=str(repo))
    run_all(history)
    view = TaskView(migrated)
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e.invalid",
         "commit", "-q", "--allow-empty", "-m", "x"],
        check=True, timeout=30,
    )  # fmt: skip

    result = view.retry(op_id, "dave")
    run_all(history)

    new = result["operation"]
    assert new["operation_type"] == "create" and new["id"] != op_id
    assert new["requested_by"] == "dave" and new["reason"] == f"retry of {op_id}"
    assert len(new["task_ids"]) == 1
    assert view.show(new["id"])["operation"]["status"] == "success"  # type: ignore[index]
    with pytest.raises(Refused, match="already retried"):
        view.retry(op_id, "dave")
    with pytest.raises(Refused, match="failed or cancelled"):
        view.retry(new["id"], "dave")
    request_action(ws_id, None, OperationType.DELETE, Limits())
    with pytest.raises(Refused) as gone:
        view.retry(new["id"], "dave")
    assert gone.value.code in ("NOT_FAILED", "WORKSPACE_GONE")


def test_retry_is_refused_when_the_transition_is_not_allowed_now(
    migrated: Settings, history: TaskHistory
) -> None:
    ws_id, op_id = new_workspace("rebuilt", repo_url="/no/such/repo")
    run_all(history)
    # the operator's colleague rebuilt it meanwhile: the failed create no longer applies
    execute(migrated, "UPDATE workspaces SET status = 'running' WHERE id = ?", (ws_id,))

    with pytest.raises(Refused) as refused:
        TaskView(migrated).retry(op_id, "dave")

    assert refused.value.code == "INVALID_STATE"


def test_overview_counts_the_queue_and_the_last_hour(
    migrated: Settings, history: TaskHistory
) -> None:
    new_workspace("a")
    new_workspace("b", repo_url="/no/such/repo")
    run_all(history)
    new_workspace("waiting")

    data = TaskView(migrated).overview()

    assert data["pending"] == 1 and data["oldest_pending_seconds"] >= 0
    assert data["last_hour"]["completed"] == 1 and data["last_hour"]["failed"] == 1
    assert sum(data["per_minute"]) == 2 and len(data["per_minute"]) == 60
    assert data["running"] == [] and data["history_bytes"] > 0


def test_no_history_yet_is_an_empty_answer(migrated: Settings) -> None:
    view = TaskView(replace(migrated, task_history_path=migrated.db_path.parent / "none.db"))

    assert view.list_tasks("recent") == [] and view.list_tasks("running") == []
    assert view.overview()["history"] is False


def test_the_routine_housekeeping_runs_are_not_recorded(
    migrated: Settings, history: TaskHistory
) -> None:
    huey.enqueue(tasks.schedule.sweep_slot.s(0))
    run_all(history)

    assert TaskView(migrated).list_tasks("recent") == []


def test_the_operation_id_is_read_from_captured_arguments() -> None:
    op = "3fb199e2-71a0-4db2-8918-15e6c28e1f89"

    assert operation_id_in(f"('{op}',) {{}}") == op
    assert operation_id_in("(1764687600,) {}") is None
