"""Per-user limits are checked in the transaction that creates or starts, so races cannot pass."""

from __future__ import annotations

import multiprocessing

import pytest

from models.engines import DatabaseTarget
from models.errors import QuotaExceeded
from models.settings import Settings
from models.states import OperationType
from models.work import Outcome, claim_operation, complete_operation
from models.workspaces import Limits, NewWorkspace, insert_workspace, request_action, usage


def _create_in_own_process(
    target: DatabaseTarget,
    name: str,
    start: multiprocessing.Barrier,  # type: ignore[valid-type]
) -> str:
    """One process of the race, on the test's own database: the SQLite file or the schema."""
    from models.store import open_store

    open_store(target)
    start.wait()  # type: ignore[attr-defined]
    try:
        insert_workspace(NewWorkspace("alice", name, "local"), Limits(max_workspaces=3))
    except QuotaExceeded:
        return "refused"
    return "created"


@pytest.mark.usefixtures("migrated")
def test_racing_processes_cannot_pass_the_workspace_limit(migrated: Settings) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(8)
        with context.Pool(8) as pool:
            outcomes = pool.starmap(
                _create_in_own_process,
                [(migrated.data_target, f"w{index}", start) for index in range(8)],
            )
    assert sorted(outcomes) == ["created"] * 3 + ["refused"] * 5
    assert usage("alice") == {"workspaces": 3, "running": 3}


@pytest.mark.usefixtures("migrated")
def test_the_running_limit_applies_to_start() -> None:
    limits = Limits(max_running=1)
    first, op = insert_workspace(NewWorkspace("bob", "one", "local"), limits)
    claim_operation(op.id, 3)
    complete_operation(op.id, Outcome(provider_id="p", connection_info={}))
    _, stop = request_action(first.id, "bob", OperationType.STOP, limits)
    claim_operation(stop.id, 3)
    complete_operation(stop.id, Outcome())
    insert_workspace(NewWorkspace("bob", "two", "local"), limits)  # one active again
    with pytest.raises(QuotaExceeded, match="running workspace limit"):
        request_action(first.id, "bob", OperationType.START, limits)
    assert usage("bob") == {"workspaces": 2, "running": 1}
