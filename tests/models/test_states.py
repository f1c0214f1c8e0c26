"""The transition table: what each action may start from, and where it leads."""

from models.states import (
    OperationType,
    WorkspaceStatus,
    can_apply,
    failure_status,
    success_status,
    transitional_status,
)

S = WorkspaceStatus
T = OperationType
LIVE = [s for s in S if s not in (S.DELETED, S.DELETING)]


def test_delete_is_allowed_from_every_live_status() -> None:
    assert all(can_apply(T.DELETE, status) for status in LIVE)
    assert not can_apply(T.DELETE, S.DELETED)
    assert not can_apply(T.DELETE, S.DELETING)


def test_start_only_from_stopped_and_stop_only_from_running() -> None:
    assert [s for s in S if can_apply(T.START, s)] == [S.STOPPED]
    assert [s for s in S if can_apply(T.STOP, s)] == [S.RUNNING]


def test_no_action_applies_while_another_transition_runs() -> None:
    busy = [S.CREATING, S.STARTING, S.STOPPING, S.RESTARTING, S.RESTORING]
    for action in T:
        if action in (T.DELETE, T.SNAPSHOT_DELETE):
            continue
        assert not any(can_apply(action, status) for status in busy), action


def test_a_failed_stop_leaves_the_workspace_running() -> None:
    assert transitional_status(T.STOP) is S.STOPPING
    assert success_status(T.STOP) is S.STOPPED
    assert failure_status(T.STOP) is S.RUNNING


def test_create_and_delete_end_states() -> None:
    assert (transitional_status(T.CREATE), success_status(T.CREATE)) == (S.CREATING, S.RUNNING)
    assert failure_status(T.CREATE) is S.FAILED
    assert (transitional_status(T.DELETE), success_status(T.DELETE)) == (S.DELETING, S.DELETED)
