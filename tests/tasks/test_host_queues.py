"""A queue per Docker host: a workspace's tasks go to its host's queue; a host-bound consumer
takes only those, while its keys (periodic slots, locks) stay where every consumer sees them.
On the real queue storage of the run (SQLite file, or Redis in the PostgreSQL pass)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.hosts import report_host
from models.settings import Settings
from models.workspaces import Limits, NewWorkspace, insert_workspace
from tasks.dispatch import enqueue_operations
from tasks.queue import configure_queue, huey, pending_by_host

pytestmark = pytest.mark.usefixtures("migrated")


def create(name: str, provider: str = "docker") -> tuple[str, str]:
    _, op = insert_workspace(NewWorkspace("alice", name, provider), Limits())
    return op.id, op.operation_type


def queued_operations(storage: object) -> list[str]:
    """The operation id of each task waiting in a storage's queue."""
    items = storage.enqueued_items()  # type: ignore[attr-defined]
    return [huey.deserialize_task(item).args[0] for item in items]


def test_each_task_goes_to_its_workspaces_host_queue() -> None:
    report_host("a", "unix:///a.sock", None)
    report_host("b", "unix:///b.sock", None)
    on_a, on_b, local = create("one"), create("two"), create("folder", provider="local")
    assert enqueue_operations([on_a, on_b, local])
    assert queued_operations(huey.storage_for("a")) == [on_a[0]]
    assert queued_operations(huey.storage_for("b")) == [on_b[0]]
    assert queued_operations(huey.storage) == [local[0]]
    # what operators see (vm-api tasks, vm-api queue, /metrics)
    assert pending_by_host(["a", "b"]) == {"a": 1, "b": 1}
    assert huey.pending_count() == 1


def test_a_host_bound_consumer_takes_its_hosts_tasks_and_shares_its_keys(
    migrated: Settings,
) -> None:
    report_host("a", "unix:///a.sock", None)
    on_a = create("one")
    assert enqueue_operations([on_a])
    configure_queue(replace(migrated, worker_host_name="a"))
    try:
        shared = huey.storage_for(None)
        assert queued_operations(shared) == []
        assert huey.deserialize_task(huey.storage.dequeue()).args == (on_a[0],)
        # a slot claimed by this consumer is claimed for the whole cluster
        assert huey.put_if_empty("slot:janitor:1", "1")
        assert shared.has_data_for_key("slot:janitor:1")
        assert not shared.put_if_empty("slot:janitor:1", b"x")
        # what it enqueues for a workspace without a host goes to the shared queue
        local = create("folder", provider="local")
        assert enqueue_operations([local])
        assert queued_operations(shared) == [local[0]]
    finally:
        configure_queue(migrated)


def test_vm_api_tasks_lists_what_waits_in_each_hosts_queue(migrated: Settings) -> None:
    from tasks.inspection import TaskView

    report_host("a", "unix:///a.sock", None)
    on_a, local = create("one"), create("folder", provider="local")
    assert enqueue_operations([on_a, local])
    view = TaskView(migrated)

    rows = view.list_tasks("pending")

    assert {(r["operation_id"], r["host"]) for r in rows} == {(on_a[0], "a"), (local[0], None)}
    # and a task id from a host's queue is one the operators can revoke
    task_id = next(r["task_id"] for r in rows if r["host"] == "a")
    assert view.revoke(task_id, "carol")["revoked"] == [task_id]
    assert view.list_tasks("pending", limit=1)[0]["host"] is None  # the limit holds
